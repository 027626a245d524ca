"""Bronze row hashes: sha256 of the delivered values joined by \\x1f, a null as NUL.

The hashes identify unchanged rows across deliveries (issue 17), so the value of every
hash must stay what earlier runs wrote: checked against the definition in plain Python
and against the SQL expression bronze used before the row was joined in Arrow."""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa
import pytest

from civlake.ingest import bronze
from civlake.ingest.bronze import row_hashes

VALUES = {
    "name": ["张三", "", None, "a\x1fb", "x\x00y", None, "𠮷野家", " "],
    "id_number": ["440101199001011234", None, "", None, "1", "2", "3", None],
    "_extra": [None, '{"备注": "迁入"}', None, None, "", None, None, None],
    "_malformed": [None, None, None, "噪声行,字段数不对", None, None, None, None],
}


def _table() -> pa.Table:
    # columns chunked differently, as after a concat or a take
    name = pa.chunked_array([VALUES["name"][:3], VALUES["name"][3:]], pa.string())
    ids = pa.chunked_array([VALUES["id_number"][:5], VALUES["id_number"][5:]], pa.string())
    return pa.table(
        {
            "name": name,
            "id_number": ids,
            "_extra": pa.array(VALUES["_extra"], pa.string()),
            "_malformed": pa.array(VALUES["_malformed"], pa.string()),
        }
    )


@pytest.mark.parametrize("hasher", ["hashlib", "polars-hash"])
def test_row_hash_is_sha256_of_fields_joined_with_unit_separator_and_nul_for_null(
    hasher, monkeypatch
):
    # GIVEN rows with nulls, empty and blank strings, separators and NUL inside values,
    # hashed by either of row_hashes' two hashers (small tables: hashlib; large: polars-hash)
    if hasher == "polars-hash":
        monkeypatch.setattr(bronze, "GIL_FREE_ROWS", 1)
    cols = list(VALUES)
    # WHEN hashed
    got = row_hashes(_table(), cols).to_pylist()
    # THEN each hash is the definition's, computed here without Arrow or DuckDB
    for i, h in enumerate(got):
        text = "\x1f".join("\x00" if VALUES[c][i] is None else VALUES[c][i] for c in cols)
        assert h == hashlib.sha256(text.encode("utf-8")).hexdigest(), i
    # null and "" differ; a separator inside a value is not a field boundary
    assert got[1] != got[2]
    assert len(set(got)) == len(got)


def test_row_hash_matches_the_sql_expression_earlier_runs_wrote():
    cols = list(VALUES)
    table = _table()
    expr = " || chr(31) || ".join(f'coalesce("{c}", chr(0))' for c in cols)
    con = duckdb.connect()
    con.register("t", table)
    before = con.sql(f"select sha256({expr}) as h from t").to_arrow_table().column("h")
    assert row_hashes(table, cols).to_pylist() == before.cast(pa.string()).to_pylist()


@pytest.mark.parametrize("gil_free_rows", [4096, 0])
def test_row_hash_of_no_rows(gil_free_rows, monkeypatch):
    monkeypatch.setattr(bronze, "GIL_FREE_ROWS", gil_free_rows)
    table = _table().slice(0, 0)
    assert row_hashes(table, list(VALUES)).to_pylist() == []
