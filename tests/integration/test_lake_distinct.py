"""lake.read_distinct answers constant row groups from Parquet footers: the same
combinations as scanning every row, on tables written every way the lake writes them."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from civlake import lake

COLUMNS = ["_delivery_id", "_format"]
SCHEMA = pa.schema([("v", pa.string()), ("_delivery_id", pa.string()), ("_format", pa.string())])


def _scanned(path) -> set[tuple]:
    """What read_distinct answered before footers: DuckDB over the whole table."""
    ds = lake.open_table(path).to_pyarrow_dataset()  # noqa: F841 - read by name
    with duckdb.connect() as con:
        return set(con.sql('select distinct "_delivery_id", "_format" from ds').fetchall())


def _rows(deliveries: list[str | None], formats: list[str | None], n: int) -> pa.Table:
    rows = [
        {"v": f"r{i}", "_delivery_id": deliveries[i % len(deliveries)],
         "_format": formats[i % len(formats)]}
        for i in range(n)
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, SCHEMA)


values = st.one_of(st.none(), st.sampled_from(["20261101-440100-001", "d-2", "d'3", "D-2"]))
parts = st.lists(
    st.tuples(
        st.sampled_from(["append", "stream", "old-schema"]),
        st.lists(values, min_size=1, max_size=3),  # deliveries of the part (one: constant)
        st.lists(st.one_of(st.none(), st.sampled_from(["csv", "api"])), min_size=1, max_size=2),
        st.integers(1, 40),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=parts)
def test_footers_answer_what_a_scan_answers(tmp_path_factory, monkeypatch, parts):
    # GIVEN a table appended to by delta-rs, by the streamed writer (row groups of 7 rows)
    # and in the schema before the _format column existed, in any order
    monkeypatch.setattr(lake.AppendFiles, "ROW_GROUP_ROWS", 7)
    path = tmp_path_factory.mktemp("t") / "bronze" / "feed"
    for how, deliveries, formats, n in parts:
        data = _rows(deliveries, formats, n)
        if how == "stream":
            writer = lake.AppendFiles(path, SCHEMA, dictionary=False, statistics=COLUMNS)
            writer.write(data)
            writer.commit()
        elif how == "old-schema" and lake.open_table(path) is None:
            lake.append(path, data.drop_columns(["_format"]))
        else:
            lake.append(path, data)
    # (a table only ever written in the old schema has no _format to ask for)
    assume("_format" in lake.open_table(path).to_pyarrow_dataset().schema.names)
    # WHEN the distinct combinations are read THEN they are what scanning every row gives
    got = lake.read_distinct(path, COLUMNS)
    assert got.schema == pa.schema([SCHEMA.field(c) for c in COLUMNS])
    pairs = [tuple(r.values()) for r in got.to_pylist()]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == _scanned(path)


def test_one_delivery_files_are_answered_without_reading_rows(tmp_path, monkeypatch):
    # GIVEN streamed files of one delivery each, in several row groups
    monkeypatch.setattr(lake.AppendFiles, "ROW_GROUP_ROWS", 5)
    path = tmp_path / "bronze" / "hukou_population"
    for delivery, fmt in (("20261101-440100-001", "csv"), ("20261201-440100-001", None)):
        writer = lake.AppendFiles(path, SCHEMA, dictionary=False, statistics=COLUMNS)
        writer.write(_rows([delivery], [fmt], 23))
        writer.commit()
    expected = _scanned(path)

    # WHEN the distinct deliveries are read with no way to scan rows
    def no_scan(*args, **kwargs):
        raise AssertionError("rows were read")

    monkeypatch.setattr(duckdb, "connect", no_scan)
    got = lake.read_distinct(path, COLUMNS)
    # THEN the footers gave them
    assert {tuple(r.values()) for r in got.to_pylist()} == expected
    assert expected == {("20261101-440100-001", "csv"), ("20261201-440100-001", None)}


def test_a_file_without_statistics_is_read(tmp_path):
    # GIVEN a streamed file written without statistics of the columns asked for
    path = tmp_path / "bronze" / "feed"
    writer = lake.AppendFiles(path, SCHEMA, dictionary=False, statistics=["v"])
    writer.write(_rows(["a", "b"], ["csv"], 10))
    writer.commit()
    # THEN its rows are read, and the answer is still complete
    got = lake.read_distinct(path, COLUMNS)
    assert {tuple(r.values()) for r in got.to_pylist()} == {("a", "csv"), ("b", "csv")}


def test_an_absent_table_has_no_combinations(tmp_path):
    assert lake.read_distinct(tmp_path / "nothing", COLUMNS) is None


@pytest.mark.parametrize("fmt", ["api", None])
def test_orphan_check_sees_the_same_deliveries(tmp_path, fmt):
    # GIVEN bronze with a streamed delivery the ledger does not know (a crash between
    # the bronze commit and the ledger's)
    from civlake.ingest import bronze

    path = bronze.bronze_path(tmp_path, "hukou_population")
    writer = lake.AppendFiles(path, SCHEMA, dictionary=False, statistics=COLUMNS)
    writer.write(_rows(["20261201-440100-001"], [fmt], 12))
    writer.commit()
    lake.append(path, _rows(["20261101-440100-001"], ["csv"], 3))
    # THEN it is an orphan unless it is an API snapshot (the puller repairs those)
    orphans = bronze.orphan_deliveries(tmp_path, "hukou_population", {"20261101-440100-001"},
                                       io=lake.DELTA_RS)  # fmt: skip
    assert orphans == ([] if fmt == "api" else ["20261201-440100-001"])
