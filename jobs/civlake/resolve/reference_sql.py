"""Person references as a DuckDB table, streamed from the silver Delta tables.

The SQL twin of ``references.read_references``: the same rows, columns and values, in
the same order (``ord``, by feed and lineage), but built by DuckDB from the tables'
Parquet files (or delta-rs' Arrow datasets) under its memory limit instead of in one
pandas frame. Names get their comparison forms once per distinct name
(``names.normalize_names`` in Arrow, ``names.name_pinyin``) and are joined back.

``load`` returns None when a silver table is not as the contracts type it (an ID without
its ``_status`` column, a date stored as text, ...): the caller then takes the pandas
path, which knows how to repair those.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
from importlib import metadata
from pathlib import Path

import duckdb
import pyarrow as pa

from civlake import lake, tables
from civlake.contracts import FeedContract, PersonRole, load_contracts
from civlake.engine.duck import memory_limit_bytes
from civlake.identifiers import EARLIEST_BIRTH
from civlake.resolve.names import name_pinyin, normalize_names
from civlake.resolve.references import DEATH_FEEDS, DIVISION_COLUMNS, LINEAGE, RESOLVABLE

log = logging.getLogger(__name__)

ORDER = ["feed_id", *LINEAGE, "role"]
_DATES = ("birth_date", "death_date", "status_changed_on")
RESOLVABLE_SQL = ", ".join(f"'{s}'" for s in RESOLVABLE)
NAME_BATCH = 65_536
NAMES_FILE = "resolve_names"
# What a reference takes in a temporary table (311 bytes measured at 1,000,000 persons,
# 2.3 M references), with room to spare for the ordered copy into it.
TEMP_BYTES_PER_REF = 512


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _role_select(feed: FeedContract, source: str, present: set[str], role: PersonRole) -> str:
    """One role's references of one silver table (``present``: its columns), as
    ``_role_frame`` makes them."""

    def col(name: str | None) -> str:
        return _ident(name) if name and name in present else "null"

    division = next((c for c in DIVISION_COLUMNS if c in present), None)
    hukou = feed.feed_id == "hukou_population"
    key = col(role.stable_key)
    stable_key = (
        "null"
        if key == "null"
        else f"case when {key} <> '' then {_literal(feed.feed_id + ':')} || {key} end"
    )
    fields = {
        "feed_id": _literal(feed.feed_id),
        **{c: col(c) for c in LINEAGE},
        "role": _literal(role.role),
        "id_number": col(role.id),
        "id_status": col(f"{role.id}_status"),
        "name": col(role.name),
        "birth_date": col(role.birth_date),
        "sex": col(role.sex),
        "division": col(division),
        "phone": col("phone" if hukou else None),
        "stable_key": stable_key,
        "produced_at": col("_produced_at"),
        "death_date": col(DEATH_FEEDS.get(feed.feed_id)),
        "person_status": col("person_status" if hukou else None),
        "status_changed_on": col("status_changed_on" if hukou else None),
    }
    types = {"_source_row": "bigint", **dict.fromkeys(_DATES, "date")}
    select = ", ".join(
        f"cast({expr} as {types.get(name, 'varchar')}) as {name}" for name, expr in fields.items()
    )
    # A secondary person without ID or name carries nothing to resolve on.
    keep = f"{col(role.name)} is not null or {col(role.id)} is not null"
    return f"select {select} from {source} where {keep}"


def _usable(feed: FeedContract, schema: pa.Schema) -> bool:
    """The columns a reference reads have the types the SQL path assumes."""
    types = {f.name: f.type for f in schema}
    for role in feed.persons:
        if role.id in types and f"{role.id}_status" not in types:
            log.info("silver.%s has no %s_status: person references go the pandas way",
                     feed.feed_id, role.id)  # fmt: skip
            return False
    dated = {DEATH_FEEDS.get(feed.feed_id), "status_changed_on"}
    dated |= {r.birth_date for r in feed.persons}
    for name, kind in types.items():
        wanted = pa.date32() if name in dated else None
        if wanted is not None and kind not in (wanted, pa.null()):
            return False
    read = {c for r in feed.persons for c in (r.id, r.name, r.sex, r.stable_key) if c}
    read |= {*DIVISION_COLUMNS, "phone", "person_status", "_produced_at", "_delivery_id",
             "_source_file"}  # fmt: skip
    return all(types[c] in (pa.string(), pa.large_string(), pa.null()) for c in read if c in types)


def names_fingerprint() -> str:
    """What a name's comparison forms depend on: the code of ``names`` and ``hanzi`` and
    the OpenCC and pypinyin releases. A saved names table made under another is unused."""
    from civlake import hanzi
    from civlake.resolve import names

    parts = [inspect.getsource(names), inspect.getsource(hanzi)]
    parts += [metadata.version(p) for p in ("opencc-python-reimplemented", "pypinyin")]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]


def _normalized_names(con: duckdb.DuckDBPyConnection, saved: Path | None) -> None:
    """Table names(name, name_norm, name_pinyin): each distinct name once, in batches.
    The uncached functions: a city's distinct names would otherwise stay in the caches.

    ``saved`` (a folder): the names an earlier run normalised are read from
    ``resolve_names-<names_fingerprint>.parquet`` there, only the others are normalised,
    and the file is replaced by all of them (a new month brings few new names: at
    1,000,000 persons the 227,000 distinct names cost ~1 CPU s in Python)."""
    pinyin = name_pinyin.__wrapped__
    con.execute("create table names (name varchar, name_norm varchar, name_pinyin varchar)")
    path = None if saved is None else saved / f"{NAMES_FILE}-{names_fingerprint()}.parquet"
    if path is not None and path.is_file():
        try:
            con.execute(
                "insert into names select name, name_norm, name_pinyin from read_parquet($p)",
                {"p": str(path)},
            )
        except duckdb.Error as exc:  # a damaged file is only a lost shortcut
            log.warning("saved names %s unreadable (%s): normalising every name", path, exc)
            con.execute("delete from names")
    con.execute("""
        create table raw_names as
        select distinct name from refs_raw r
        where name is not null and not exists (select 1 from names n where n.name = r.name)
    """)
    # A second connection reads while this one inserts (registered datasets and temp
    # views are per connection, the tables are shared).
    reader = con.cursor().execute("select name from raw_names").to_arrow_reader(NAME_BATCH)
    for batch in reader:
        raw = batch.column(0)
        normed = normalize_names(raw)
        chunk = pa.table(  # noqa: F841 - read by name below
            {"name": raw, "name_norm": normed,
             "name_pinyin": [pinyin(n) for n in normed.to_pylist()]},
            schema=pa.schema([("name", pa.string()), ("name_norm", pa.string()),
                              ("name_pinyin", pa.string())]),
        )  # fmt: skip
        con.execute("insert into names select * from chunk")
    new = con.execute("select count(*) from raw_names").fetchone()[0]
    con.execute("drop table raw_names")
    if path is not None and new:
        _save_names(con, path)


def _save_names(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Table ``names`` to ``path`` (written aside, then moved over it); files of other
    fingerprints go."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    con.execute(f"copy names to {_literal(str(tmp))} (format parquet)")
    os.replace(tmp, path)
    for other in path.parent.glob(f"{NAMES_FILE}-*.parquet"):
        if other != path:
            other.unlink(missing_ok=True)


def delta_source(con: duckdb.DuckDBPyConnection, name: str, dt) -> set[str]:
    """View or registered dataset ``name`` over the Delta table ``dt``; returns its
    columns. DuckDB reads the Parquet files itself when the table is plain Parquet
    (``lake.plain_parquet_files``, several times faster than delta-rs' Arrow dataset),
    else the dataset."""
    files = lake.plain_parquet_files(dt)
    if files is None:
        dataset = lake.arrow_dataset(dt)
        con.register(name, dataset)
        return set(dataset.schema.names)
    listed = ", ".join(_literal(str(f)) for f in files)
    con.execute(
        f"create or replace temp view {name} as "
        f"select * from read_parquet([{listed}], union_by_name = true)"
    )
    return {row[0] for row in con.execute(f"describe {name}").fetchall()}


def refs_sql(raw: str, names: str) -> str:
    """The references of the relation ``raw`` (the union of ``_role_select``s) with the
    comparison forms of their names from ``names`` (name, name_norm, name_pinyin), as
    ``read_references`` derives them: status 'missing' without an ID; the row's own birth
    date, else the digits of a usable ID when they are a real date on or after
    EARLIEST_BIRTH. DuckDB's dialect, written so that sqlglot gives the same query in
    Spark SQL (``civlake.resolve.spark_refs``)."""
    earliest = EARLIEST_BIRTH.isoformat()
    return f"""
        with r as (
            select feed_id, _delivery_id, _source_file, _source_row, role, id_number,
                case when id_number is null then 'missing'
                     else coalesce(id_status, 'missing') end as id_status,
                name, birth_date, sex, division, phone, stable_key, produced_at, death_date,
                person_status, status_changed_on
            from {raw}
        ),
        born as (
            select *, try_cast(substr(id_number, 7, 4) || '-' || substr(id_number, 11, 2)
                || '-' || substr(id_number, 13, 2) as date) as id_birth
            from r
        )
        select feed_id, _delivery_id, _source_file, _source_row, role, id_number,
            id_status, born.name, n.name_norm, n.name_pinyin,
            coalesce(birth_date, case
                when id_status in ({RESOLVABLE_SQL}) and length(id_number) = 18
                    and regexp_matches(substr(id_number, 7, 8), '^[0-9]{{8}}$')
                    and id_birth >= date '{earliest}' then id_birth end) as birth_date,
            sex, division, phone, stable_key, produced_at, death_date, person_status,
            status_changed_on
        from born left join {names} n on n.name = born.name
    """


def load(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    schemas_dir: Path | None,
    *,
    saved_names: Path | None = None,
) -> int | None:
    """Creates ``refs`` (REF_COLUMNS and ``ord``, a reference's place in the pandas
    path's order, 1..count); returns its row count, or None when the SQL path does not
    apply. ``saved_names``: a folder where the normalised names are kept between runs
    (``_normalized_names``)."""
    selects = []
    for feed in load_contracts(schemas_dir).values():
        if not feed.persons:
            continue
        dt = lake.open_table(tables.path(lake_dir, tables.silver(feed.feed_id)))
        if dt is None:
            continue
        if not _usable(feed, lake.arrow_dataset(dt).schema):
            return None
        source = f"silver_{len(selects)}"
        present = delta_source(con, source, dt)
        selects.extend(_role_select(feed, source, present, r) for r in feed.persons)
    if not selects:
        return None
    con.execute("create temp view refs_raw as " + "\nunion all\n".join(selects))
    _normalized_names(con, saved_names)
    # read_references: status 'missing' without an ID; the row's own birth date, else
    # the digits of a usable ID when they are a real date on or after EARLIEST_BIRTH.
    # Then copied in ORDER (an ORDER BY keeps its order into the table, and spills), so
    # a row's place is its rowid: numbering by a sort of the row ids and a join back took
    # 4.9 s at 1,000,000 persons, a row_number() over the sorted rows 7.7 s, and one
    # ordered by ORDER holds every reference in memory (it ran out of a 64 MB limit at
    # 235,000 references). Scan, join and sort in one statement (10.3 CPU s for the whole
    # load) ran out of the bounded test's 96 MB in two runs of three; so the rows go
    # unordered (buffering nothing) into a temporary table first, which spills but is not
    # compressed into the database file (as a table there: 21.6 CPU s; temporary: 11.0).
    con.execute("set preserve_insertion_order = false")
    con.execute(f"create temp table refs_unordered as {refs_sql('refs_raw', 'names')}")
    con.execute("reset preserve_insertion_order")
    count = con.execute("select count(*) from refs_unordered").fetchone()[0]
    # The ordered copy goes into a temporary table when the references take at most a
    # quarter of the limit: it is not compressed into the database file (2.3 M references:
    # 1.3 s, against 4.3 s as a table). Filled in order, a temporary table does not spill:
    # under the bounded test's 96 MB it ran out of memory, where a table does not.
    kind = "temp table" if count * TEMP_BYTES_PER_REF <= memory_limit_bytes(con) // 4 else "table"
    con.execute(
        f"create {kind} refs_sorted as select * from refs_unordered order by {', '.join(ORDER)}"
    )
    con.execute("drop table refs_unordered")
    # Read on this connection: a cursor does not see the temporary tables.
    con.execute("create view refs as select *, rowid + 1 as ord from refs_sorted")
    return count
