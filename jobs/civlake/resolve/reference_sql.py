"""Person references as a DuckDB table, streamed from the silver Delta tables.

The SQL twin of ``references.read_references``: the same rows, columns and values, in
the same order (``ord``, by feed and lineage), but built by DuckDB from Arrow datasets
under its memory limit instead of in one pandas frame. Names get their comparison forms
once per distinct name (``names.normalize_name``, ``names.name_pinyin``) and are joined
back.

``load`` returns None when a silver table is not as the contracts type it (an ID without
its ``_status`` column, a date stored as text, ...): the caller then takes the pandas
path, which knows how to repair those.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from civlake import lake, tables
from civlake.contracts import FeedContract, PersonRole, load_contracts
from civlake.identifiers import EARLIEST_BIRTH
from civlake.resolve.names import name_pinyin, normalize_name
from civlake.resolve.references import DEATH_FEEDS, DIVISION_COLUMNS, LINEAGE, RESOLVABLE

log = logging.getLogger(__name__)

ORDER = ["feed_id", *LINEAGE, "role"]
_DATES = ("birth_date", "death_date", "status_changed_on")
RESOLVABLE_SQL = ", ".join(f"'{s}'" for s in RESOLVABLE)
NAME_BATCH = 65_536


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _role_select(feed: FeedContract, source: str, schema: pa.Schema, role: PersonRole) -> str:
    """One role's references of one silver table, as ``_role_frame`` makes them."""
    present = set(schema.names)

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


def _normalized_names(con: duckdb.DuckDBPyConnection) -> None:
    """Table names(name, name_norm, name_pinyin): each distinct name once, in batches.
    The uncached functions: a city's distinct names would otherwise stay in the caches."""
    norm, pinyin = normalize_name.__wrapped__, name_pinyin.__wrapped__
    con.execute("create table names (name varchar, name_norm varchar, name_pinyin varchar)")
    con.execute(
        "create table raw_names as select distinct name from refs_raw where name is not null"
    )
    # A second connection reads while this one inserts (registered datasets and temp
    # views are per connection, the tables are shared).
    reader = con.cursor().execute("select name from raw_names").to_arrow_reader(NAME_BATCH)
    for batch in reader:
        raw = batch.column(0).to_pylist()
        normed = [norm(n) for n in raw]
        chunk = pa.table(  # noqa: F841 - read by name below
            {"name": raw, "name_norm": normed, "name_pinyin": [pinyin(n) for n in normed]},
            schema=pa.schema([("name", pa.string()), ("name_norm", pa.string()),
                              ("name_pinyin", pa.string())]),
        )  # fmt: skip
        con.execute("insert into names select * from chunk")
    con.execute("drop table raw_names")


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


def load(con: duckdb.DuckDBPyConnection, lake_dir: Path, schemas_dir: Path | None) -> int | None:
    """Creates table ``refs`` (REF_COLUMNS and ``ord``, a reference's place in the pandas
    path's order; a parallel insert does not keep rowid in that order); returns its row count, or None when the SQL path does not apply."""
    selects = []
    for feed in load_contracts(schemas_dir).values():
        if not feed.persons:
            continue
        dt = lake.open_table(tables.path(lake_dir, tables.silver(feed.feed_id)))
        if dt is None:
            continue
        dataset = dt.to_pyarrow_dataset()
        if not _usable(feed, dataset.schema):
            return None
        source = f"silver_{len(selects)}"
        con.register(source, dataset)
        selects.extend(_role_select(feed, source, dataset.schema, r) for r in feed.persons)
    if not selects:
        return None
    con.execute("create temp view refs_raw as " + "\nunion all\n".join(selects))
    _normalized_names(con)
    # Numbered afterwards (_number): keeping the scan's order here would buffer it.
    con.execute("set preserve_insertion_order = false")
    con.execute(f"create table refs_unordered as {refs_sql('refs_raw', 'names')}")
    con.execute("reset preserve_insertion_order")
    _number(con)
    return con.execute("select count(*) from refs").fetchone()[0]


def _number(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``refs``: ``refs_unordered`` with ``ord``, each row's place in ORDER.

    The numbers are counted here over the sorted row ids: a ``row_number()`` window over
    the whole city holds every reference in memory (it ran out of a 64 MB limit at
    235,000 references), while the sort spills and the join back spills too."""
    con.execute("create table ords (rid bigint, ord bigint)")
    reader = (
        con.cursor()
        .execute(f"select rowid from refs_unordered order by {', '.join(ORDER)}")
        .to_arrow_reader(NAME_BATCH)
    )
    done = 0
    for batch in reader:
        numbered = pa.table(  # noqa: F841 - read by name below
            {"rid": batch.column(0), "ord": np.arange(done + 1, done + batch.num_rows + 1)}
        )
        con.execute("insert into ords select * from numbered")
        done += batch.num_rows
    con.execute("""
        create table refs as
        select u.*, o.ord from refs_unordered u join ords o on o.rid = u.rowid
    """)
    con.execute("drop table ords")
    con.execute("drop table refs_unordered")
