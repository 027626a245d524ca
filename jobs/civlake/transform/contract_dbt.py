"""dbt files generated from the feed contracts: ``python -m civlake.transform.contract_dbt``.

The contracts (``schemas/<feed>.yaml``) fix each feed's silver columns, title, source
system, cadence and modes; three dbt files repeat those facts, so they are written from
the contracts here instead of by hand:

* ``dbt/models/staging/silver/_silver__sources.yml``: the ``silver`` source, one table per
  feed with its lake path, freshness by cadence and its silver columns in lake order
  (the staging models select them through the ``silver_columns`` macro);
* ``dbt/models/staging/silver/_silver__models.yml``: the staging models' tests and docs;
* ``dbt/models/intermediate/int_feed_cadence.sql``: the feeds' cadences and modes.

Run it after adding or changing a contract; a unit test fails while a committed file is
stale (tests/unit/test_contract_dbt.py), as it does for the expectation suites.
"""

from __future__ import annotations

import json
from pathlib import Path

from civlake.contracts import FeedContract, load_contracts
from civlake.settings import REPO_ROOT
from civlake.tables import silver_schema

SOURCES_YML = Path("dbt/models/staging/silver/_silver__sources.yml")
MODELS_YML = Path("dbt/models/staging/silver/_silver__models.yml")
CADENCE_SQL = Path("dbt/models/intermediate/int_feed_cadence.sql")
_COMMAND = "python -m civlake.transform.contract_dbt"

# Freshness in hours by cadence: warn after one missed delivery (the period plus a
# day or so of slack for late deliveries), error after about two.
FRESHNESS_HOURS: dict[str, tuple[int, int]] = {
    "daily": (36, 96),
    "weekly": (216, 384),
    "monthly": (840, 1488),
    "yearly": (9600, 19200),
}

_LINEAGE_DOCS = {
    "_delivery_id": "交付编号（血缘）：行所属交付的 delivery_id。",
    "_source_file": "源文件（血缘）：清单中的数据文件名，交换平台快照为 api。",
    "_source_row": "源行号（血缘）：该行在源文件中的数据行序号（从1起）。",
    "_source_unit": "报送单位代码（血缘）。",
    "_period": "交付所属期（血缘），按数据集的报送频率。",
    "_mode": "交付方式（血缘）：full 或 incremental。",
    "_produced_at": "交付生成时间（血缘）：清单中的 ISO 8601 文本。",
    "_ingested_at": "入湖时间（血缘，UTC）。",
    "_row_hash": "行哈希（血缘）：交付值的 sha256。",
}
_COMPANION_DOCS = {
    "_status": "{header}的校验状态（见 docs/CONVENTIONS.md）。",
    "_delivered": "{header}的交付原值，补足12位。",
    "_note": "{header}中括注的备注（如“已故”）。",
}


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _column_doc(contract: FeedContract, name: str) -> str:
    """What a silver column holds, in the contract's words."""
    if name in _LINEAGE_DOCS:
        return _LINEAGE_DOCS[name]
    headers = {c.name: c.header for c in contract.columns}
    for c in contract.columns:
        if c.derives_id:
            headers[c.derives_id] = f"由{c.header}前18位得出的公民身份号码"
    if name in headers:
        col = next((c for c in contract.columns if c.name == name), None)
        if col is None:
            return f"{headers[name]}。"
        kind = f"enum {col.enum}" if col.enum else col.kind
        return f"{col.header}（{kind}{'，必填' if col.required else ''}）。"
    for suffix, doc in _COMPANION_DOCS.items():
        base = name.removesuffix(suffix)
        if name.endswith(suffix) and base in headers:
            return doc.format(header=headers[base])
    raise ValueError(f"{contract.feed_id}: silver column {name!r} has no description rule")


def _source_table(contract: FeedContract) -> list[str]:
    fid, modes = contract.feed_id, "/".join(contract.modes)
    desc = f"{contract.title}（{contract.source_system}）：{contract.cadence} {modes} 交付，清洗后的行，含血缘列。"
    lines = [
        f"      - name: {fid}",
        f"        description: {_q(desc)}",
        "        meta:",
        f"          lake_table: silver/{fid}",
        *_freshness(contract),
        "        columns:",
    ]
    for name in silver_schema(contract).names:
        lines += [
            f"          - name: {name}",
            f"            description: {_q(_column_doc(contract, name))}",
        ]
    return lines


def _header(comment: str, *about: str) -> list[str]:
    """First lines of a generated file: that it is generated, then what it holds."""
    return [
        f"{comment} GENERATED from schemas/*.yaml by `{_COMMAND}`: do not edit by hand.",
        *(f"{comment} {line}" for line in about),
    ]


def render_sources(contracts: dict[str, FeedContract]) -> str:
    lines = [
        *_header(
            "#",
            "Silver lake tables, one per feed contract: in the warehouse, views over DuckDB's",
            "delta_scan of meta.lake_table, or an empty table with the lake's schema when it is",
            "absent (jobs/civlake/transform/delta_source.py). The columns, in lake order, are",
            "what the staging models select (macro silver_columns).",
        ),
        "version: 2",
        "",
        "sources:",
        "  - name: silver",
        "    description: 清洗层 silver：每个来源数据集一张已清洗、已类型化的 Delta 表（SOURCE_FEEDS.md 第3节）。",
        "    schema: lake_silver",
        "    config:",
        "      loaded_at_field: _ingested_at",
        "    tables:",
    ]
    for contract in contracts.values():
        lines += _source_table(contract)
    return "\n".join(lines) + "\n"


def render_models(contracts: dict[str, FeedContract]) -> str:
    lines = [
        *_header(
            "#",
            "Staging models of the silver feeds: rename/cast only.",
            "Column meanings are the contracts' (schemas/<feed>.yaml and _silver__sources.yml).",
        ),
        "version: 2",
        "",
        "models:",
    ]
    for c in contracts.values():
        model = f"stg_{c.feed_id}"
        desc = (
            f"{c.title}（{model}）：silver.{c.feed_id} 的类型化行，仅改名与类型转换；"
            f"列含义见 schemas/{c.feed_id}.yaml。"
        )
        lines += [
            f"  - name: {model}",
            f"    description: {_q(desc)}",
            "    data_tests:",
            "      - unique_combination:",
            "          arguments:",
            "            columns: [_delivery_id, _source_file, _source_row]",
            "    columns:",
        ]
        for col in ("_delivery_id", "_source_row"):
            lines += [
                f"      - name: {col}",
                f"        description: {_LINEAGE_DOCS[col]}",
                "        data_tests: [not_null]",
            ]
    return "\n".join(lines) + "\n"


def _freshness(contract: FeedContract) -> list[str]:
    if contract.on_demand:
        return ["        # delivered on demand: no freshness check (contract: on_demand)"]
    warn, error = FRESHNESS_HOURS[contract.cadence]
    return [
        "        config:",
        f"          # {contract.cadence} cadence: warn after one missed delivery, error after about two.",
        "          freshness:",
        f"            warn_after: {{count: {warn}, period: hour}}",
        f"            error_after: {{count: {error}, period: hour}}",
    ]


def render_cadence(contracts: dict[str, FeedContract]) -> str:
    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    rows = [
        f"({lit(c.feed_id)}, {lit(c.title)}, {lit(c.cadence)}, {lit('/'.join(c.modes))}, "
        f"{str(c.on_demand).lower()})"
        for c in contracts.values()
    ]
    lines = [
        *_header(
            "--",
            "Feed cadences, delivery modes and on-demand feeds, as the contracts declare them.",
        ),
        "with feeds (feed_id, feed_title, cadence, modes, on_demand) as (",
        "    values",
        *(f"        {row}{',' if i < len(rows) - 1 else ''}" for i, row in enumerate(rows)),
        ")",
        "",
        "select * from feeds",
    ]
    return "\n".join(lines) + "\n"


def render_all(schemas_dir: Path | None = None) -> dict[Path, str]:
    """Every generated file's text, by path relative to the repository root."""
    contracts = dict(sorted(load_contracts(schemas_dir).items()))
    return {
        SOURCES_YML: render_sources(contracts),
        MODELS_YML: render_models(contracts),
        CADENCE_SQL: render_cadence(contracts),
    }


def write_all(root: Path = REPO_ROOT, schemas_dir: Path | None = None) -> list[Path]:
    """Write the generated files under ``root``; the paths written."""
    written = []
    for rel, text in render_all(schemas_dir).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    for path in write_all():
        print(path)


if __name__ == "__main__":
    main()
