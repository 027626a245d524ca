"""resolve_organizations: organisations by USCC, with name fallback for bad codes.

The registry (silver.social_organizations) is authoritative: its latest row per USCC is
the organisation. Donations and volunteer records refer to organisations by USCC; when
the delivered USCC is invalid, the organisation is resolved by its normalised name
(donations carry one), else by a registry USCC one typo away (one character changed or
two adjacent swapped), when exactly one such code exists. What stays unresolved is
kept as its own organisation so no donation silently disappears.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

import duckdb
import pandas as pd
import pyarrow as pa

from civlake import lake, tables
from civlake.engine.lake_io import LakeIO
from civlake.engine.runtime import EMBEDDED, Engine

REGISTRY = tables.ORG_REGISTRY
# (feed, role, uscc column, name column or None)
REFERENCES = (
    ("charity_donations", "charity", "org_uscc", "org_name"),
    ("volunteer_service", "service_org", "org_uscc", None),
)
GOOD = ("valid", "normalized")
LINEAGE = ["_delivery_id", "_source_file", "_source_row"]


def normalize_org_name(name) -> str | None:
    """NFKC folds full-width letters and brackets; spaces and brackets' styles vanish."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return None
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))
    return text.replace("(", "（").replace(")", "）") or None


def _one_typo_index(codes: list[str]) -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for code in codes:
        for i in range(len(code)):
            index.setdefault(f"{i}:{code[:i]}?{code[i + 1 :]}", set()).add(code)
    return index


def _near(code: str, index: dict[str, set[str]], known: set[str]) -> str | None:
    found: set[str] = set()
    for i in range(len(code)):
        found |= index.get(f"{i}:{code[:i]}?{code[i + 1 :]}", set())
    for i in range(len(code) - 1):  # adjacent transposition
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped in known:
            found.add(swapped)
    return next(iter(found)) if len(found) == 1 else None


BASE_SCHEMA = pa.schema(
    [("org_key", pa.string()), ("uscc", pa.string()), ("name", pa.string()),
     ("in_registry", pa.bool_())]
)  # fmt: skip


def _latest_registry(lake_dir, io: LakeIO) -> pa.Table:
    """Latest registry row per USCC (all registry columns, lineage dropped)."""
    arrow = io.read_arrow(tables.path(lake_dir, tables.silver(REGISTRY)))
    if arrow is None or arrow.num_rows == 0:
        return BASE_SCHEMA.empty_table()
    con = duckdb.connect()
    con.register("reg", arrow)
    latest = con.sql(
        """
        select * exclude (rn) from (
            select *, row_number() over (partition by uscc order by _produced_at desc,
                _delivery_id desc, _source_row desc) as rn
            from reg where uscc is not null)
        where rn = 1 order by uscc
        """
    ).to_arrow_table()
    latest = latest.select([c for c in latest.column_names if not c.startswith("_")])
    return latest.append_column("org_key", latest.column("uscc")).append_column(
        "in_registry", pa.array([True] * latest.num_rows)
    )


def _org_key(uscc: str | None, name: str | None) -> str:
    if uscc:
        return uscc
    digest = hashlib.sha256((name or "").encode("utf-8")).hexdigest()[:16]
    return f"NAME-{digest}"


def _resolve_row(rec: dict, ref: tuple, index, by_uscc: set[str], by_name: dict[str, str]):
    """One silver row's reference (an org_source_xref row plus _produced_at), or None
    when nothing in the row names an organisation."""
    feed, role, uscc_col, name_col = ref
    code, status = rec.get(uscc_col), rec.get(f"{uscc_col}_status") or "missing"
    name = normalize_org_name(rec.get(name_col)) if name_col else None
    if code and status in GOOD:
        uscc, method = code, f"uscc_{'exact' if status == 'valid' else 'normalized'}"
    elif name and name in by_name:
        uscc, method = by_name[name], "name_exact"
    elif code and (near := _near(code, index, by_uscc)):
        uscc, method = near, "uscc_one_typo"
    elif not code and not name:
        return None  # nothing names an organisation (e.g. individual volunteering)
    else:
        uscc, method = None, "new_org"
    return {"feed_id": feed, **{c: rec[c] for c in LINEAGE}, "role": role,
            "org_key": _org_key(uscc, name if uscc is None else None),
            "org_uscc": uscc, "uscc_delivered": code, "org_name": name,
            "match_method": method, "_produced_at": rec.get("_produced_at")}  # fmt: skip


def _resolve_refs(lake_dir, by_uscc: set[str], by_name: dict[str, str], io: LakeIO) -> pd.DataFrame:
    index = _one_typo_index(sorted(by_uscc))
    rows = []
    for ref in REFERENCES:
        arrow = io.read_arrow(tables.path(lake_dir, tables.silver(ref[0])))
        if arrow is None or arrow.num_rows == 0:
            continue
        for rec in arrow.to_pandas().to_dict("records"):
            row = _resolve_row(rec, ref, index, by_uscc, by_name)
            if row is not None:
                rows.append(row)
    return pd.DataFrame(rows)


def _outside(refs: pd.DataFrame, by_uscc: set[str]) -> pa.Table:
    """Organisations referred to but not in the registry: last name seen wins."""
    if refs.empty:
        return BASE_SCHEMA.empty_table()
    extra = refs[~refs["org_key"].isin(by_uscc)]
    outside = (
        extra.sort_values(["_produced_at", "_delivery_id", "_source_row"])
        .groupby("org_key", as_index=False)
        .agg(uscc=("org_uscc", "last"), name=("org_name", "last"))
        .assign(in_registry=False)
    )
    return pa.Table.from_pandas(outside, schema=BASE_SCHEMA, preserve_index=False)


def resolve_organizations(settings, *, engine: Engine = EMBEDDED) -> dict:
    """Writes core/organizations (one row per org_key) and core/org_source_xref.

    On the embedded engine the references stream (``_resolve_streamed``): silver is read
    a batch at a time and the xref written so, in the same order; only the registry and
    the organisations outside it are held. On the Spark ``engine`` they are resolved on
    the executors by the same ``_resolve_row`` (``spark_orgs``); only the registry is
    on the driver."""
    io = engine.lake
    latest = _latest_registry(settings.lake, io)
    by_uscc = set(latest.column("uscc").to_pylist())
    by_name: dict[str, str] = {}
    for uscc, name in zip(latest["uscc"].to_pylist(), latest["name"].to_pylist(), strict=True):
        by_name.setdefault(normalize_org_name(name) or "", uscc)
    if not engine.on_spark:
        return _resolve_streamed(settings, latest, by_uscc, by_name)
    from civlake.resolve import spark_orgs

    return spark_orgs.resolve(settings, engine=engine, latest=latest, by_name=by_name)


def _write_organizations(settings, latest: pa.Table, outside: pa.Table, io: LakeIO) -> int:
    # The registered schema comes first so that a lake without the registry still gets
    # every registry column (empty), in the registered order.
    schema = tables.schema(tables.ORGANIZATIONS)
    parts = [schema.empty_table(), latest, outside]
    orgs = pa.concat_tables(parts, promote_options="default").select(schema.names)
    orgs = orgs.sort_by("org_key")
    io.overwrite(tables.path(settings.lake, tables.ORGANIZATIONS), orgs)
    return orgs.num_rows


BATCH_ROWS = 65_536


class _LastSeen:
    """Per organisation outside the registry, its last non-null uscc and name in the
    order ``_outside`` sorts by (_produced_at, _delivery_id, _source_row, nulls last,
    then reading order), kept as references stream by: memory follows the organisations
    outside the registry, not the references."""

    def __init__(self, by_uscc: set[str]) -> None:
        self.by_uscc = by_uscc
        self.seen: dict[str, dict[str, tuple]] = {}

    def add(self, row: dict, seq: int) -> None:
        if row["org_key"] in self.by_uscc:
            return
        at, delivery, source_row = row["_produced_at"], row["_delivery_id"], row["_source_row"]
        # pandas sorts nulls last in each column, and its multi-column sort is stable
        order = (at is None, at or "", delivery is None, delivery or "",
                 source_row is None, source_row or 0, seq)  # fmt: skip
        latest = self.seen.setdefault(row["org_key"], {})
        for out, column in (("uscc", "org_uscc"), ("name", "org_name")):
            if row[column] is not None and (out not in latest or latest[out][0] < order):
                latest[out] = (order, row[column])

    def table(self) -> pa.Table:
        keys = sorted(self.seen)
        values = {
            out: [self.seen[k][out][1] if out in self.seen[k] else None for k in keys]
            for out in ("uscc", "name")
        }
        return pa.table(
            {"org_key": keys, **values, "in_registry": [False] * len(keys)}, schema=BASE_SCHEMA
        )


def _resolve_streamed(settings, latest: pa.Table, by_uscc: set[str], by_name) -> dict:
    index = _one_typo_index(sorted(by_uscc))
    last_seen = _LastSeen(by_uscc)
    methods: Counter[str] = Counter()
    schema = tables.schema(tables.ORG_SOURCE_XREF)

    def batches():
        for ref in REFERENCES:
            table = lake.open_table(tables.path(settings.lake, tables.silver(ref[0])))
            if table is None:
                continue
            for batch in lake.arrow_dataset(table).to_batches(batch_size=BATCH_ROWS):
                rows = []
                for rec in batch.to_pylist():
                    row = _resolve_row(rec, ref, index, by_uscc, by_name)
                    if row is not None:
                        last_seen.add(row, sum(methods.values()))
                        methods[row["match_method"]] += 1
                        rows.append(row)
                if rows:
                    yield pa.RecordBatch.from_pylist(rows, schema=schema)

    xref_path = tables.path(settings.lake, tables.ORG_SOURCE_XREF)
    references = lake.overwrite_ordered(
        xref_path, pa.RecordBatchReader.from_batches(schema, batches()), row_group_rows=BATCH_ROWS
    )
    orgs = _write_organizations(settings, latest, last_seen.table(), lake.DELTA_RS)
    return {
        "organizations": orgs,
        "in_registry": latest.num_rows,
        "references": references,
        "match_methods": dict(methods),
    }
