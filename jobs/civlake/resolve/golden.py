"""Golden person records (survivorship) from resolved references.

Hukou is the one authoritative source for identity (一数一源): when a person has a hukou
record, its latest state gives name, sex, birth date, registered division and status.
For persons hukou does not know: sex from ID digit 17 and birth date from ID digits
7-14 when the ID is valid, else the most frequent non-null value (ties: most recent).
Death date: medical certificate, then cremation record, then hukou status date
(SOURCE_FEEDS.md 3.8); the latest delivery of each source wins within that source.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pyarrow as pa

from civlake import tables
from civlake.engine import duck

DEATH_ORDER = ("death_certificates", "cremation_records", "hukou_population")
PERSONS_SCHEMA = tables.schema(tables.PERSONS)

_SQL = """
with r as (
    select *,
        coalesce(produced_at, '') || '|' || coalesce(_delivery_id, '') || '|'
            || lpad(cast(_source_row as varchar), 12, '0') as recency
    from {source}
),
hukou as (
    select person_key,
        arg_max(name_norm, recency) as name,
        arg_max(sex, recency) as sex,
        arg_max(birth_date, recency) as birth_date,
        arg_max(division, recency) as division,
        arg_max(person_status, recency) as status,
        arg_max(status_changed_on, recency) as status_changed_on
    from r where feed_id = 'hukou_population'
    group by person_key
),
base as (
    select person_key,
        max(canon_id) as id_number,
        list_sort(list_distinct(list(feed_id))) as source_feeds,
        min(cast(left(produced_at, 10) as date)) as first_seen,
        max(cast(left(produced_at, 10) as date)) as last_seen
    from r group by person_key
),
needs as (
    select b.person_key,
        h.name is null as need_name,
        not coalesce(h.sex in ('1', '2'), false) and b.id_number is null as need_sex,
        h.birth_date is null and (b.id_number is null
            or try_strptime(substr(b.id_number, 7, 8), '%Y%m%d') is null) as need_birth,
        h.division is null as need_division
    from base b left join hukou h using (person_key)
),
{modes},
deaths as (
    select person_key,
        arg_max(death_date, recency) filter (where feed_id = 'death_certificates')
            as cert_date,
        arg_max(death_date, recency) filter (where feed_id = 'cremation_records')
            as cremation_date
    from r
    where feed_id in ('death_certificates', 'cremation_records') and death_date is not null
    group by person_key
)
select
    b.person_key,
    b.id_number,
    coalesce(h.name, mn.value) as name,
    case
        when h.sex in ('1', '2') then h.sex
        when b.id_number is not null
            then case when cast(substr(b.id_number, 17, 1) as int) % 2 = 1 then '1' else '2' end
        else coalesce(ms.value, '0')
    end as sex,
    cast(coalesce(
        h.birth_date,
        case when b.id_number is not null then try_strptime(substr(b.id_number, 7, 8), '%Y%m%d') end,
        mb.value
    ) as date) as birth_date,
    coalesce(h.division, md.value) as hukou_division_code,
    d.cert_date is null and d.cremation_date is null and coalesce(h.status, '') <> '死亡'
        as is_alive,
    cast(coalesce(d.cert_date, d.cremation_date,
        case when h.status = '死亡' then h.status_changed_on end) as date) as death_date,
    case
        when d.cert_date is not null then 'death_certificates'
        when d.cremation_date is not null then 'cremation_records'
        when h.status = '死亡' and h.status_changed_on is not null then 'hukou_population'
    end as death_date_source,
    b.source_feeds,
    b.first_seen,
    b.last_seen,
    h.person_key is not null as in_hukou,
    h.status as hukou_status
from base b
left join hukou h using (person_key)
left join deaths d using (person_key)
left join mode_name mn using (person_key)
left join mode_sex ms using (person_key)
left join mode_birth mb using (person_key)
left join mode_division md using (person_key)
order by b.person_key
"""

# Most frequent non-null value per person; ties go to the most recent delivery, then to
# the smallest value so reruns agree. Only for the persons whose record reads it
# (``needs``: no hukou value, nor one from the ID): at 1,000,000 persons the four modes
# over every person took 9 of the query's 24 CPU s, and hukou knows almost everyone.
_MODE = """
mode_{alias} as (
    select person_key, value from (
        select person_key, {column} as value, count(*) as n, max(recency) as latest
        from r semi join (select person_key from needs where need_{alias}) using (person_key)
        where {column} is not null {extra}
        group by person_key, {column}
    )
    qualify row_number() over (
        partition by person_key order by n desc, latest desc, value) = 1
)"""


# pandas' datetime64[ns] range: build_persons turns dates outside it into nulls.
PANDAS_DATES = ("1677-09-22", "2262-04-11")


def _sql(source: str) -> str:
    modes = ",\n".join(
        _MODE.format(alias=alias, column=column, extra=extra)
        for alias, column, extra in (
            ("name", "name_norm", ""),
            ("sex", "sex", "and sex in ('1', '2')"),
            ("birth", "birth_date", ""),
            ("division", "division", ""),
        )
    )
    return _SQL.format(modes=modes, source=source)


def build_persons(refs: pd.DataFrame, *, now: datetime) -> pa.Table:
    """``refs`` carries person_key and canon_id (the valid canonical ID, else null)."""
    frame = refs.copy()
    for col in ("birth_date", "death_date", "status_changed_on"):
        frame[col] = pd.to_datetime(frame[col], errors="coerce").dt.date
    con = duckdb.connect()
    con.register("refs", frame)
    table = con.sql(_sql("refs")).to_arrow_table()
    resolved_at = pa.array([now] * table.num_rows, pa.timestamp("us", tz="UTC"))
    # A fixed schema: an empty lake must not write a table typed by pandas' guesses.
    return table.append_column("resolved_at", resolved_at).cast(PERSONS_SCHEMA)


# Under a smaller memory limit a slice's query runs on one thread: its seven aggregates
# take their first blocks per thread whatever the slice (~60 MB on two threads: a 96 MB
# limit failed one run in three). From this limit up, the slices (sized to the limit) use
# every thread: at 10,000,000 persons under 4GB, one thread made writing the persons ~70 s
# of resolution's ~206 s.
ONE_THREAD_BELOW = 1 << 30


def stream_persons(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    now: datetime,
    batch_rows: int,
    slice_rows: int,
) -> pa.RecordBatchReader:
    """``build_persons`` over the relation ``source`` of ``con`` (same columns; dates
    typed DATE and already cut to PANDAS_DATES), as record batches in person_key order.

    One slice of the person_key space at a time, each of about ``slice_rows`` references:
    the whole-city query (arg_max, lists and modes per person) ran out of a 1 GB limit at
    1.2 M references. Keys are HMAC hex digits, spread evenly, so even cuts of their
    8-digit prefix make even slices, and the slices one after the other are in order."""
    total = con.execute(f"select count(*) from {source}").fetchone()[0]
    slices = max(1, -(-total // slice_rows))
    starts = [""] + [f"{(i << 32) // slices:08x}" for i in range(1, slices)]
    persons = _sql("golden_slice")

    def queries():
        if slices == 1:  # the whole city in one: read straight from ``source``
            yield _sql(source), {}
            return
        # Each slice copied out first: the query reads ``r`` seven times, and each read
        # would otherwise scan the whole city for its slice.
        one_thread = duck.memory_limit_bytes(con) < ONE_THREAD_BELOW
        for lo, hi in zip(starts, [*starts[1:], None], strict=True):
            upper = "" if hi is None else "and person_key < $hi"
            con.execute("reset threads")
            con.execute(
                f"create or replace table golden_slice as select * from {source} "
                f"where person_key >= $lo {upper}",
                {"lo": lo} if hi is None else {"lo": lo, "hi": hi},
            )
            if one_thread:
                con.execute("set threads = 1")
            yield persons, {}
        con.execute("reset threads")
        con.execute("drop table if exists golden_slice")

    return duck.sliced(con, queries(), now=now, schema=PERSONS_SCHEMA, batch_rows=batch_rows)
