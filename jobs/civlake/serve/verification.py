"""Verification service (数据可用不可见): a yes/no about one person, never the record.

Reads the restricted warehouse tables read-only, one short connection per question,
so a dbt build can still take the write lock between questions. Each question is one
parameterised query returning a single boolean; no other column is ever selected.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import duckdb

from civlake.identifiers import is_valid_id
from civlake.serve.errors import ApiError

# Each question: candidate queries in order of preference, with the tables they need.
# The first whose tables exist answers; the fallbacks keep the service usable while
# the warehouse grows (e.g. marital status before a dedicated model is built).
QUESTIONS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "is_alive": [
        (
            ("core.dim_person",),
            "select coalesce(bool_or(is_alive), false) from core.dim_person where id_number = ?",
        ),
    ],
    "is_dibao_or_tekun": [
        (
            ("core.dim_person", "core.person_profile"),
            "select coalesce(bool_or(pp.is_dibao or pp.is_tekun), false) "
            "from core.dim_person dp join core.person_profile pp using (person_key) "
            "where dp.id_number = ?",
        ),
    ],
    "is_married": [
        (
            ("core.dim_person", "publish.verify_marital_status"),
            "select coalesce(bool_or(ms.is_married), false) "
            "from core.dim_person dp join publish.verify_marital_status ms using (person_key) "
            "where dp.id_number = ?",
        ),
        (
            ("core.dim_person", "core.person_profile.is_married"),
            "select coalesce(bool_or(pp.is_married), false) "
            "from core.dim_person dp join core.person_profile pp using (person_key) "
            "where dp.id_number = ?",
        ),
    ],
}


def normalise_id(raw: str) -> str:
    """Canonical 18-character citizen ID, or a Validation Error saying what is wrong."""
    text = unicodedata.normalize("NFKC", raw or "").strip().lstrip("'").upper()
    text = text.replace(" ", "").replace("-", "")
    if len(text) != 18 or not text[:17].isdigit() or text[17] not in "0123456789X":
        raise ApiError(
            409,
            "Validation Error",
            "id_number is not an 18-character citizen ID",
            id_number=["use the 18-character 公民身份号码 (17 digits + check char)"],
        )
    if not is_valid_id(text):
        raise ApiError(
            409,
            "Validation Error",
            "id_number check character is wrong",
            id_number=["check character does not match (GB 11643-1999)"],
        )
    return text


def answer(warehouse: Path, question: str, id_number: str) -> bool:
    if not warehouse.is_file():
        raise ApiError(503, "Service Unavailable", "the warehouse is not built yet; try later")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException:
        raise ApiError(
            503, "Service Unavailable", "the warehouse is being rebuilt; retry in a minute"
        ) from None
    try:
        present = _present(con, warehouse)
        for needs, sql in QUESTIONS[question]:
            if all(n in present for n in needs):
                row = con.execute(sql, [id_number]).fetchone()
                return bool(row and row[0])
    finally:
        con.close()
    raise ApiError(
        503,
        "Service Unavailable",
        f"the tables that answer {question} are not built yet; ask the data team",
    )


# Tables and columns per warehouse file version: reading information_schema took about
# half of each question's ~95 ms (bench/bench_serve.py); a rebuild changes the file stamp.
_PRESENT: dict[tuple[str, int, int], set[str]] = {}


def _present(con: duckdb.DuckDBPyConnection, warehouse: Path) -> set[str]:
    st = warehouse.stat()
    key = (str(warehouse), st.st_mtime_ns, st.st_size)
    if key not in _PRESENT:
        _PRESENT.clear()
        _PRESENT[key] = _read_present(con)
    return _PRESENT[key]


def _read_present(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in ('core', 'publish')"
    ).fetchall()
    return {f"{s}.{t}" for s, t, _ in rows} | {f"{s}.{t}.{c}" for s, t, c in rows}
