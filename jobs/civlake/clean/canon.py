"""Column canonicalisers: whole Arrow columns in, canonical Arrow columns out.

These are the public, column-at-a-time face of the macros in ``sql_macros``; the gate
itself runs the same macros in one query per delivery (``frame.py``). Everything here
is vectorised: DuckDB evaluates the macros over the whole array, and the one library
that forces Python (OpenCC, traditional -> simplified) sees each distinct name once,
in one batched call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from civlake.clean import sql_macros
from civlake.contracts import load_enums
from civlake.hanzi import simplified, t2s_pattern
from civlake.settings import REPO_ROOT

Values = pa.Array | pa.ChunkedArray | Sequence[str | None]
_local = threading.local()
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


def connection(schemas_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection with the macros and the enum macros of
    ``schemas_dir`` (default: the repo's ``schemas/``) installed."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = sql_macros.connect()
        _local.enums_from = None
    source = (schemas_dir or REPO_ROOT / "schemas").resolve()
    if _local.enums_from != source:
        install_enums(con, load_enums(source))
        _local.enums_from = source
    return con


def _as_array(values: Values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.string())
    return values.cast(pa.string())


def _run(exprs: dict[str, str] | sql_macros.Layers, values: Values, **params: object) -> pa.Table:
    """Evaluate SQL over column ``s`` of ``values`` (row order preserved).

    ``exprs`` is one layer ``{out: expr}`` or a list of layers, each layer seeing the
    columns of the ones before it; only the last layer's columns are returned.
    """
    layers = [exprs] if isinstance(exprs, dict) else exprs
    con = connection()
    v = pa.table({"s": _as_array(values)})  # noqa: F841 - read by name in the query
    sql = "SELECT * FROM v"
    for layer in layers:
        cols = ", ".join(f"{e} AS {n}" for n, e in layer.items())
        sql = f"SELECT *, {cols} FROM ({sql})"
    outs = ", ".join(n for layer in layers for n in layer if "__" not in n)
    return con.execute(f"SELECT {outs} FROM ({sql})", params or None).to_arrow_table()


# --- enumerations ----------------------------------------------------------------------


def enum_macro_sql(name: str, mapping: dict[str, list[str]], keys: dict[str, str | None]) -> str:
    """``cl_enum_<name>(s)``: canonical value or NULL, keys folded like delivered values.

    ``keys`` maps each listed spelling to its ``cl_enum_key`` (computed in one query).
    """
    if not _IDENT.match(name):
        raise ValueError(f"enum name {name!r} in _enums.yaml is not snake_case")
    pairs: dict[str, str] = {}
    for canonical, synonyms in mapping.items():
        for raw in [canonical, *synonyms]:
            key = keys[raw]
            if key is None:
                continue
            if pairs.setdefault(key, canonical) != canonical:
                raise ValueError(
                    f"schemas/_enums.yaml, enum {name}: {raw!r} reads as both "
                    f"{pairs[key]!r} and {canonical!r}; remove one of the synonyms"
                )
    lit = sql_macros.lit
    body = ", ".join(f"{lit(k)}: {lit(v)}" for k, v in pairs.items())
    return f"cl_enum_{name}(s) AS (MAP {{{body}}}::MAP(VARCHAR, VARCHAR))[cl_enum_key(s)]"


def install_enums(con: duckdb.DuckDBPyConnection, enums: dict | None = None) -> None:
    enums = enums if enums is not None else load_enums()
    spellings = sorted({raw for m in enums.values() for c, syn in m.items() for raw in [c, *syn]})
    v = pa.table({"s": pa.array(spellings, pa.string())})  # noqa: F841 - used by name below
    folded = con.execute("SELECT s, cl_enum_key(s) FROM v").fetchall()
    keys = dict(folded)
    for name, mapping in enums.items():
        con.execute(f"CREATE OR REPLACE MACRO {enum_macro_sql(name, mapping, keys)}")


# --- Chinese text ------------------------------------------------------------------


def to_simplified(values: Values) -> pa.Array:
    """Traditional -> simplified over distinct values, converted in one OpenCC call."""
    arr = _as_array(values)
    distinct = pc.unique(arr).drop_null()
    # OpenCC is pure Python (~10 us/char): only values holding one of its dictionary keys
    # can change, found in Arrow; pure-ASCII values cannot change either.
    pattern = t2s_pattern()
    if pattern is not None:
        distinct = distinct.filter(pc.match_substring_regex(distinct, pattern))
    todo = [s for s in distinct.to_pylist() if not s.isascii() and "\n" not in s]
    if not todo:
        return arr
    converted = simplified("\n".join(todo)).split("\n")
    if len(converted) != len(todo):  # a converter that changes line structure: go one by one
        converted = [simplified(s) for s in todo]
    changed = {a: b for a, b in zip(todo, converted, strict=True) if a != b}
    if not changed:
        return arr
    keys = pa.array(list(changed), type=pa.string())
    idx = pc.index_in(arr, value_set=keys)
    mapped = pc.take(pa.array(list(changed.values()), type=pa.string()), idx)
    return pc.if_else(pc.is_valid(idx), mapped, arr)


# --- public canonicalisers ---------------------------------------------------------


def citizen_id(values: Values, *, produced_at: date) -> tuple[pa.Array, pa.Array]:
    """(canonical 18-char ID or NULL, status valid|normalized|upgraded_15|invalid|missing)."""
    t = _run(sql_macros.id_layers("s", "v", "$maxd"), values, maxd=produced_at)
    return t["v"].combine_chunks(), t["v_status"].combine_chunks()


def uscc(values: Values) -> tuple[pa.Array, pa.Array]:
    """(canonical USCC or NULL, status valid|normalized|invalid|missing)."""
    t = _run({"v": "cl_uscc_value(s)", "st": "cl_uscc_status(s)"}, values)
    return t["v"].combine_chunks(), t["st"].combine_chunks()


def name(values: Values) -> tuple[pa.Array, pa.Array]:
    """(simplified name without spaces and with ``·``, bracketed remark or NULL)."""
    t = _run({"v": "cl_name_value(s)", "note": "cl_name_note(s)"}, values)
    return to_simplified(t["v"]), t["note"].combine_chunks()


def _one(expr: str, values: Values) -> pa.Array:
    return _run({"v": expr}, values)["v"].combine_chunks()


def text(values: Values) -> pa.Array:
    """Free text with its ends trimmed; NULL for blank and spreadsheet error values."""
    return _one("cl_trim(s)", values)


def spreadsheet_error(values: Values) -> pa.Array:
    """The spreadsheet error value (``#N/A``, ``#DIV/0!``, ...) a value holds, else NULL."""
    return _one("cl_xlerr(s)", values)


def date_(values: Values) -> pa.Array:
    """date32; NULL for blank and for unreadable/impossible dates (see ``is_present``)."""
    return _one("cl_date(s)", values)


def timestamp(values: Values) -> pa.Array:
    """timestamp(us, UTC); naive delivered times are read as Beijing time."""
    out = _run(sql_macros.ts_layers("s", "v"), values)["v"].combine_chunks()
    return out.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))


def month(values: Values) -> pa.Array:
    return _one("cl_month(s)", values)


def amount(values: Values) -> pa.Array:
    """decimal128(18, 2), half-up rounding of extra places."""
    return _one("cl_amount(s)", values)


def integer(values: Values) -> pa.Array:
    return _one("cl_int(s)", values)


def division_code(values: Values) -> pa.Array:
    """Delivered code padded to 12 digits (not yet checked against ``divisions``)."""
    return _one("cl_div(s)", values)


def sex(values: Values) -> pa.Array:
    return _one("cl_sex(s)", values)


def phone(values: Values) -> pa.Array:
    return _one("cl_phone(s)", values)


def enum(values: Values, enum_name: str) -> pa.Array:
    if not _IDENT.match(enum_name) or enum_name not in load_enums():
        raise KeyError(f"unknown enum {enum_name!r}; see schemas/_enums.yaml")
    return _one(f"cl_enum_{enum_name}(s)", values)


def boolean(values: Values) -> pa.Array:
    return _one("cl_enum_yes_no(s) = 'true'", values)


def is_present(values: Values) -> pa.Array:
    """True where a value was delivered (not NULL, not only spaces)."""
    return _one("cl_blank(s) IS NOT NULL", values)
