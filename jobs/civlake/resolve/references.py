"""Person references: one row per (silver row, role) that names a person.

Reads every silver table whose contract declares person roles and projects it onto
one frame with the attributes that identify a person (ID, name, birth date, sex,
division, phone, the source system's stable key) plus what the golden record needs
(death dates, hukou status). Roles come from ``civlake.contracts``; nothing here is
per-feed except which division column describes where the person lives.

The embedded engine's resolver reads the same references through DuckDB instead
(``reference_sql``, streamed, same rows and values), the Spark engine's through Spark SQL
(``spark_refs``, the same SQL); this frame serves silver those SQL paths do not take, the
tests' reference results and the benchmarks.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from civlake import tables
from civlake.contracts import FeedContract, load_contracts
from civlake.engine.lake_io import LakeIO
from civlake.identifiers import birth_from_id, is_valid_id
from civlake.resolve.names import name_pinyin, normalize_name

log = logging.getLogger(__name__)

LINEAGE = ["_delivery_id", "_source_file", "_source_row"]
# Where the person is registered or served, best first; a payer's division is only the
# city, so it is left out (it would add agreement without evidence).
DIVISION_COLUMNS = ("hukou_division_code", "division_code")
# Feeds whose rows are evidence of a death, with the column holding the date.
DEATH_FEEDS = {"death_certificates": "death_date", "cremation_records": "death_date"}
RESOLVABLE = ("valid", "normalized", "upgraded_15")
REF_COLUMNS = [
    "feed_id", *LINEAGE, "role", "id_number", "id_status", "name", "name_norm",
    "name_pinyin", "birth_date", "sex", "division", "phone", "stable_key", "produced_at",
    "death_date", "person_status", "status_changed_on",
]  # fmt: skip


def _role_frame(feed: FeedContract, table: pd.DataFrame, role) -> pd.DataFrame:
    cols = set(table.columns)
    n = len(table)

    def col(name: str | None) -> pd.Series:
        if name and name in cols:
            return table[name].reset_index(drop=True)
        return pd.Series([None] * n, dtype=object)

    out = pd.DataFrame({"feed_id": [feed.feed_id] * n})
    for c in LINEAGE:
        out[c] = col(c)
    out["role"] = role.role
    out["id_number"] = col(role.id)
    out["id_status"] = col(f"{role.id}_status")
    out["name"] = col(role.name)
    out["birth_date"] = col(role.birth_date)
    out["sex"] = col(role.sex)
    division = next((c for c in DIVISION_COLUMNS if c in cols), None)
    out["division"] = col(division)
    out["phone"] = col("phone" if feed.feed_id == "hukou_population" else None)
    key = col(role.stable_key)
    out["stable_key"] = [f"{feed.feed_id}:{k}" if k else None for k in key]
    out["produced_at"] = col("_produced_at")
    out["death_date"] = col(DEATH_FEEDS.get(feed.feed_id))
    hukou = feed.feed_id == "hukou_population"
    out["person_status"] = col("person_status" if hukou else None)
    out["status_changed_on"] = col("status_changed_on" if hukou else None)
    # A secondary person without ID or name carries nothing to resolve on.
    keep = out["name"].notna() | out["id_number"].notna()
    return out[keep]


def _wanted(feed: FeedContract) -> list[str]:
    cols = [*LINEAGE, "_produced_at", "phone", "person_status", "status_changed_on",
            *DIVISION_COLUMNS, *DEATH_FEEDS.values()]  # fmt: skip
    for role in feed.persons:
        for name in (role.id, role.name, role.birth_date, role.sex, role.stable_key):
            if name:
                cols += [name, f"{name}_status"]
    return list(dict.fromkeys(cols))


def _columns(path: Path, io: LakeIO) -> set[str] | None:
    """Column names of a lake table (None: no table), read on the engine's lake I/O."""
    empty = io.read_arrow(path, filter_sql="false")
    return None if empty is None else set(empty.column_names)


def read_references(lake_dir: Path, schemas_dir: Path | None = None, *, io: LakeIO) -> pd.DataFrame:
    """All person references in silver, with comparison forms of name and birth date
    (read through ``io``, the engine's lake I/O)."""
    frames = []
    for feed in load_contracts(schemas_dir).values():
        if not feed.persons:
            continue
        path = tables.path(lake_dir, tables.silver(feed.feed_id))
        present = _columns(path, io)
        if present is None:
            continue
        # Only the columns a person reference needs: silver rows are wide, cities large.
        wanted = [c for c in _wanted(feed) if c in present]
        table = io.read_arrow(path, columns=wanted).to_pandas(date_as_object=True)
        if table.empty:
            continue
        for role in feed.persons:
            if f"{role.id}_status" not in present:
                log.warning(
                    "silver.%s has no %s_status column: deriving it from the check "
                    "character (rerun the clean gate to get the full status)",
                    feed.feed_id, role.id,
                )  # fmt: skip
                table[f"{role.id}_status"] = [
                    None if i is None else ("valid" if is_valid_id(i) else "invalid")
                    for i in table.get(role.id, pd.Series([None] * len(table)))
                ]
        frames.extend(_role_frame(feed, table, role) for role in feed.persons)
    if not frames:
        return pd.DataFrame(columns=REF_COLUMNS)
    refs = pd.concat(frames, ignore_index=True)
    refs["id_status"] = refs["id_status"].fillna("missing")
    refs.loc[refs["id_number"].isna(), "id_status"] = "missing"
    refs["name_norm"] = [normalize_name(n) for n in refs["name"]]
    refs["name_pinyin"] = [name_pinyin(n) for n in refs["name_norm"]]
    # The row's own birth date first; else a usable ID's digits. Not an invalid ID's: the
    # ID comparison already weighs its digits, and a typo there (19401114 -> 19411014)
    # would then count twice, once as an ID edit and again as a wrong birth date.
    usable = refs["id_status"].isin(RESOLVABLE)
    from_id = [
        birth_from_id(i) if ok else None for i, ok in zip(refs["id_number"], usable, strict=True)
    ]
    refs["birth_date"] = [
        b if pd.notna(b) else f for b, f in zip(refs["birth_date"], from_id, strict=True)
    ]
    refs["_source_row"] = refs["_source_row"].astype("int64")
    # Storage order is the engine's (delta-rs and Spark read files differently); profile
    # ids and Splink's samples follow row order, so fix it by lineage.
    refs = refs.sort_values(["feed_id", *LINEAGE, "role"], ignore_index=True, kind="stable")
    return refs[REF_COLUMNS]
