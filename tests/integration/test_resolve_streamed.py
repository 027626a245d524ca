"""The streamed resolver (DuckDB over silver) writes exactly what the pandas one writes.

``persons._resolve_in_memory`` is the reference: the whole frame in pandas, as the Spark
engine still runs it. ``persons._resolve_streamed`` must agree with it row for row on
core/person_source_xref and core/persons, on the awkward values the SQL reimplements
(name normalisation, birth dates from ID digits, dates pandas cannot hold, empty stable
keys, several deliveries of one person) and through the Splink path.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civlake import lake, tables
from civlake.engine import duck
from civlake.resolve import linkage, reference_sql
from civlake.resolve.keys import SECRET_ENV
from civlake.resolve.persons import _resolve_in_memory, _resolve_streamed
from civlake.settings import load_settings
from tests.support.synthetic import build

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _settings(home: Path):
    return load_settings(env={"CIVLAKE_HOME": str(home), SECRET_ENV: "streamed-test"})


def _written(s) -> dict[str, list[dict]]:
    return {
        name: lake.read_arrow(tables.path(s.lake, name)).to_pylist()
        for name in (tables.PERSON_SOURCE_XREF, tables.PERSONS)
    }


def _both(s) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    config = linkage.LinkageConfig.from_settings(s)
    reference = _resolve_in_memory(s, now=NOW, config=config)
    expected = _written(s)
    streamed = _resolve_streamed(s, now=NOW, config=config)
    assert streamed is not None, "the SQL path must take typed silver"
    return (reference, expected), (streamed, _written(s))


IDS = [
    "440104198001011234",  # any digits: only the status decides the path
    "440104198002301234",  # 30 February: no birth date from the ID
    "440104188001011234",  # before 1890
    "44010419800101123X",
    "44010499999999123X",  # (a usable ID is 18 characters: golden reads digit 17)
]
NAMES = ["张伟", "張偉", " 张 伟 ", "张伟（曾用名张三）", "阿依古丽•买买提", "", "（）", None]
DATES = [None, date(1980, 1, 1), date(1500, 6, 1), date(2300, 1, 1), date(1677, 9, 22)]

row = st.fixed_dictionaries(
    {
        "id_number": st.sampled_from([*IDS, None]),
        "id_number_status": st.sampled_from(["valid", "normalized", "upgraded_15"]),
        "name": st.sampled_from(NAMES),
        "birth_date": st.sampled_from(DATES),
        "sex": st.sampled_from(["1", "2", "0", "9", None]),
        "hukou_division_code": st.sampled_from(["440104001001", "440106", None]),
        "person_status": st.sampled_from(["正常", "死亡", None]),
        "status_changed_on": st.sampled_from(DATES),
        "phone": st.sampled_from(["13800000000", None]),
        "death_date": st.sampled_from(DATES),
        "volunteer_no": st.sampled_from(["V1", "", None]),
        "_delivery_id": st.sampled_from(["20260101-440100-001", "20260201-440100-001"]),
        "_produced_at": st.sampled_from(["2026-01-01T02:00:00+08:00", "2026-02-01T02:00:00+08:00"]),
    }
)
HUKOU = ["id_number", "id_number_status", "name", "birth_date", "sex", "hukou_division_code",
         "person_status", "status_changed_on", "phone"]  # fmt: skip
FEEDS = {
    "hukou_population": HUKOU,
    "death_certificates": ["id_number", "id_number_status", "name", "sex", "death_date"],
    "volunteer_service": ["id_number", "id_number_status", "name", "volunteer_no"],
}
_TYPES = {c: pa.date32() for c in ("birth_date", "status_changed_on", "death_date")}


def _write_silver(lake_dir: Path, feeds: dict[str, list[dict]]) -> None:
    for feed, rows in feeds.items():
        if not rows:
            continue
        cols = FEEDS[feed]
        fields = [(c, _TYPES.get(c, pa.string())) for c in cols]
        fields += [("_delivery_id", pa.string()), ("_source_file", pa.string()),
                   ("_source_row", pa.int64()), ("_produced_at", pa.string())]  # fmt: skip
        data = [
            {**{c: r[c] for c in cols}, "_delivery_id": r["_delivery_id"],
             "_source_file": f"{feed}.csv", "_source_row": i + 1, "_produced_at": r["_produced_at"]}
            for i, r in enumerate(rows)
        ]  # fmt: skip
        table = pa.Table.from_pylist(data, schema=pa.schema(fields))
        lake.append(lake.table_path(lake_dir, "silver", feed), table)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.fixed_dictionaries({feed: st.lists(row, max_size=12) for feed in FEEDS}).filter(
        lambda f: any(f.values())
    )
)
def test_streamed_equals_in_memory_on_usable_ids(feeds):
    # GIVEN silver whose every reference with an ID has a usable status
    with tempfile.TemporaryDirectory() as home:
        s = _settings(Path(home))
        _write_silver(s.lake, feeds)
        # WHEN both resolvers run THEN the same statistics and the same rows, in order
        (ref_stats, expected), (stats, got) = _both(s)
        assert stats == ref_stats
        assert got == expected


def test_streamed_equals_in_memory_through_the_model(tmp_path):
    # GIVEN a city with typo'd, missing and traditional-script IDs (the Splink path)
    s = _settings(tmp_path)
    build(s.lake, persons=120, months=2, seed=5)
    # WHEN both resolvers run THEN they agree row for row
    (ref_stats, expected), (stats, got) = _both(s)
    assert ref_stats["match_methods"].get("probabilistic", 0) > 0
    assert ref_stats["match_methods"].get("new_person", 0) > 0
    assert stats == ref_stats
    assert got == expected


def test_references_are_the_same_through_the_parquet_files_or_the_delta_dataset(
    tmp_path, monkeypatch
):
    # GIVEN a city in silver (plain Parquet Delta tables, read by DuckDB itself)
    s = _settings(tmp_path)
    build(s.lake, persons=120, months=2, seed=5)

    def references() -> list[tuple]:
        with duck.database(s, "refs_test") as con:
            count = reference_sql.load(con, s.lake, s.schemas_dir)
            rows = con.execute("select * from refs order by ord").fetchall()
        assert [r[-1] for r in rows] == list(range(1, count + 1))  # ord runs 1..count
        return rows

    files = references()
    # WHEN the tables are read through delta-rs' Arrow dataset instead (as a table with
    # deletion vectors or partitions is) THEN the same references in the same order
    monkeypatch.setattr(lake, "plain_parquet_files", lambda table: None)
    assert references() == files
    assert len(files) > 0


def test_saved_names_are_reused_and_only_new_names_normalised(tmp_path, monkeypatch):
    # GIVEN a month of silver, and a count of the names normalised
    s = _settings(tmp_path)
    build(s.lake, persons=120, months=1, seed=5)
    saved = tmp_path / "names"
    calls: list[str] = []
    real = reference_sql.normalize_names

    def counting(names):
        calls.extend(names.to_pylist())
        return real(names)

    monkeypatch.setattr(reference_sql, "normalize_names", counting)

    def references(folder) -> list[tuple]:
        calls.clear()
        with duck.database(s, "names_test") as con:
            reference_sql.load(con, s.lake, s.schemas_dir, saved_names=folder)
            return con.execute("select * from refs order by ord").fetchall()

    plain = references(None)
    every = len(calls)
    # WHEN the names are saved and the references loaded again THEN none is normalised
    # again, and the references are the same
    assert references(saved) == plain and len(calls) == every > 0
    assert references(saved) == plain and calls == []
    # WHEN a row with a new name arrives THEN only that name is normalised
    hukou = tables.path(s.lake, tables.silver("hukou_population"))
    row = lake.read_arrow(hukou).slice(0, 1).to_pylist()[0]
    row |= {"name": "歐陽新名", "_delivery_id": "20260301-440100-001", "_source_row": 1}
    lake.append(hukou, pa.Table.from_pylist([row], schema=lake.read_arrow(hukou).schema))
    grown = references(saved)
    assert calls == ["歐陽新名"]
    assert grown == references(None)
    assert any(r[8] == "欧阳新名" for r in grown)  # name_norm
    # WHEN the normalisation changes (another fingerprint) THEN every name again, and only
    # the new fingerprint's file stays
    monkeypatch.setattr(reference_sql, "names_fingerprint", lambda: "another")
    assert references(saved) == grown and len(calls) == every + 1
    assert [p.name for p in saved.iterdir()] == [f"{reference_sql.NAMES_FILE}-another.parquet"]
