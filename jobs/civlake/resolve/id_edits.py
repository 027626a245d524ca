"""Candidates for a corrupted citizen ID: the known valid IDs one keystroke away.

A registry clerk's typo in an ID is one substituted character (in any segment: the
division prefix, the birth date, giving month ``00`` or year ``1889``, the sequence or
the check character), two adjacent characters swapped, one character dropped or
doubled, or any of these in a 15-digit legacy number. GB 11643's check character
catches every single substitution and adjacent swap, so the typo'd ID is always
``invalid``, and the ID it came from is among its *neighbours*: the strings one such
edit away. This module enumerates the neighbours of each invalid ID (about 200 each) in
DuckDB and joins them with the IDs the lake already knows as valid. It decides nothing: ``linkage.link_by_id_edit`` weighs the
candidates with the rest of the record.

Why not only Splink's blocking: a 15-digit legacy number, or an ID with a character
dropped, shares no ID window with its 18-character original, and a corruption that
leaves only name + ID (payments) has nothing else to block on.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pyarrow as pa

from civlake.clean import sql_macros
from civlake.engine import duck

# Look-alike letters typed for digits, and the case of the check character.
_LOOKALIKE_FROM, _LOOKALIKE_TO = "OoIilLZz", "00111122"
_CHARS = [*"0123456789", "X"]

# The comparison form: SOURCE_FEEDS.md's repairs (width, spaces, hyphens, apostrophe,
# case), then look-alike letters; anything else that is not a digit or X is dropped.
_COMPARABLE = (
    "regexp_replace(upper(translate(cl_id_clean(id), "
    f"{sql_macros.lit(_LOOKALIKE_FROM)}, {sql_macros.lit(_LOOKALIKE_TO)})), '[^0-9X]', '', 'g')"
)

# One row per (reference, neighbour, edit); positions are 1-based, as a clerk counts, and
# the edit is worded for the caseworkers' worklists (Chinese).
_NEIGHBOURS = f"""
with src as (
    select ref, {_COMPARABLE} as c from __invalid__
),
pos as (select range as i from range(1, 20)),
ch as (select unnest($chars) as x),
edits as (
    -- 18 characters: one substitution (the 18th is the check character) ...
    select ref, substr(c, 1, i - 1) || x || substr(c, i + 1) as cand,
           case when i = 18 then '校验码不同' else '第' || i || '位不同' end
               as edit
    from src, pos, ch
    where length(c) = 18 and i <= 18 and substr(c, i, 1) <> x and (i = 18 or x <> 'X')
    union all
    -- ... or two adjacent characters swapped
    select ref, substr(c, 1, i - 1) || substr(c, i + 1, 1) || substr(c, i, 1) || substr(c, i + 2),
           '第' || i || '、' || (i + 1) || '位颠倒'
    from src, pos
    where length(c) = 18 and i <= 17 and substr(c, i, 1) <> substr(c, i + 1, 1)
    union all
    -- 18 characters with a right check character but an impossible birth date: the
    -- check was computed after the typo (a legacy number upgraded by a system, as the
    -- clean gate does): one substitution or swap in the body, the check recomputed
    select ref, b || cl_id_check(b), edit from (
        select ref, substr(c, 1, i - 1) || x || substr(c, i + 1, 17 - i) as b,
               '第' || i || '位不同（校验码按误号重算）' as edit
        from src, pos, ch
        where length(c) = 18 and substr(c, 18, 1) = cl_id_check(c) and i <= 17
            and x <> 'X' and substr(c, i, 1) <> x
        union all
        select ref, substr(c, 1, i - 1) || substr(c, i + 1, 1) || substr(c, i, 1)
                    || substr(c, i + 2, 16 - i),
               '第' || i || '、' || (i + 1) || '位颠倒（校验码按误号重算）'
        from src, pos
        where length(c) = 18 and substr(c, 18, 1) = cl_id_check(c) and i <= 16
            and substr(c, i, 1) <> substr(c, i + 1, 1)
    )
    union all
    -- 17 characters: one dropped (a missing check character included)
    select ref, substr(c, 1, i - 1) || x || substr(c, i), '缺第' || i || '位'
    from src, pos, ch
    where length(c) = 17 and i <= 18 and (i = 18 or x <> 'X')
    union all
    -- 19 characters: one doubled or stray
    select ref, substr(c, 1, i - 1) || substr(c, i + 1), '多第' || i || '位'
    from src, pos
    where length(c) = 19 and i <= 19
    union all
    -- 15 digits (legacy): the number itself or one substitution / swap, then upgraded
    select ref, cl_id_up15(n), edit from (
        select ref, c as n, '15位旧号码' as edit
        from src where regexp_matches(c, '^[0-9]{{15}}$')
        union all
        select ref, substr(c, 1, i - 1) || x || substr(c, i + 1),
               '15位旧号码第' || i || '位不同'
        from src, pos, ch
        where regexp_matches(c, '^[0-9]{{15}}$') and i <= 15 and x <> 'X'
            and substr(c, i, 1) <> x
        union all
        select ref, substr(c, 1, i - 1) || substr(c, i + 1, 1) || substr(c, i, 1)
                    || substr(c, i + 2),
               '15位旧号码第' || i || '、' || (i + 1) || '位颠倒'
        from src, pos
        where regexp_matches(c, '^[0-9]{{15}}$') and i <= 14
            and substr(c, i, 1) <> substr(c, i + 1, 1)
    )
)
select edits.ref, edits.cand as candidate_id, min(edits.edit) as edit,
    any_value(case when regexp_matches(src.c, '^[0-9]{{15}}$') then cl_id_up15(src.c)
                   else src.c end) as id_comparable
from edits
join __known__ as known on known.id = edits.cand  -- known IDs are valid: no check to compute
join src on src.ref = edits.ref
group by all
"""


def neighbours_sql(invalid: str, known: str) -> str:
    """The query of ``candidates`` over the tables named ``invalid`` (ref, id) and
    ``known`` (id) on a connection with ``sql_macros`` installed; parameter ``chars``."""
    return _NEIGHBOURS.replace("__invalid__", invalid).replace("__known__", known)


CHARS = {"chars": _CHARS}


@cache
def _connection():
    con = sql_macros.connect()
    # ~200 neighbours per ID: a hash join that every core can share
    con.execute(f"SET threads TO {duck.cores()}; SET enable_progress_bar = false")
    return con


def candidates(invalid: pd.DataFrame, known_ids: pd.Series) -> pd.DataFrame:
    """Known valid IDs one edit from each invalid ID.

    ``invalid``: columns ``ref`` (any key) and ``id_number`` (as silver holds it).
    ``known_ids``: canonical valid IDs. Returns ``ref``, ``candidate_id``, ``edit``
    (which keystroke turns the candidate into the delivered ID, by position, never the
    ID itself: the text goes to review tables that must not hold raw IDs) and
    ``id_comparable`` (the delivered ID in comparison form, a legacy number upgraded)."""
    empty = pd.DataFrame(columns=["ref", "candidate_id", "edit", "id_comparable"])
    if invalid.empty or known_ids.empty:
        return empty
    con = _connection()
    refs = pa.table(
        {
            "ref": pa.array(invalid["ref"].astype(str).tolist(), pa.string()),
            "id": pa.array(invalid["id_number"].tolist(), pa.string()),
        }
    )
    known = pa.table({"id": pa.array(known_ids.dropna().unique().tolist(), pa.string())})
    con.register("refs", refs)
    con.register("known", known)
    found = con.execute(neighbours_sql("refs", "known"), CHARS).df()
    con.unregister("refs")
    con.unregister("known")
    return found.sort_values(["ref", "candidate_id"], ignore_index=True) if len(found) else empty


def neighbour_ids(invalid: pd.DataFrame) -> list[str]:
    """Every string one edit from an ID of ``invalid`` (columns ``ref``, ``id_number``),
    sorted: what ``candidates`` would look up among the known IDs, for an engine that
    holds those elsewhere (``spark_known.SparkKnown``). The same edits, since the query
    is ``candidates``' own with every neighbour taken as known."""
    if invalid.empty:
        return []
    con = _connection()
    refs = pa.table(
        {
            "ref": pa.array(invalid["ref"].astype(str).tolist(), pa.string()),
            "id": pa.array(invalid["id_number"].tolist(), pa.string()),
        }
    )
    con.register("neighbour_refs", refs)
    try:
        found = con.execute(
            "select distinct candidate_id from ("
            + neighbours_sql("neighbour_refs", "(select distinct cand as id from edits)")
            + ") order by 1",
            CHARS,
        ).fetchall()
    finally:
        con.unregister("neighbour_refs")
    return [row[0] for row in found]
