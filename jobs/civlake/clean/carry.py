"""Carry forward what a ``full`` snapshot repeats: unchanged rows are not cleaned again.

A monthly ``full`` snapshot (hukou, the rosters) repeats most of last month's rows
byte for byte. Bronze already holds each row's ``_row_hash`` (sha256 of its delivered
values), and the clean gate's output for a row depends only on (SOURCE_FEEDS.md section
2, ``frame.clean_delivery``):

* the row's delivered values (the hash);
* the delivery's latest plausible birth date, ``__maxd`` (its ``produced_at``), which only
  the citizen-ID checks read, and only as an upper bound: an ID valid under an earlier
  bound stays valid under a later one, so only IDs whose status was ``invalid`` may change;
* the division map (codes become obsolete), through the Arrow lookup of each division
  column's delivered code.

So a row of a pending full delivery D is *carried* from the same unit's previous full
delivery P (already cleaned, produced no later than D) when P has a silver row with the
same hash, none of that row's citizen IDs is ``invalid``, and today's division map gives
every division column the value P's row holds. The carried row is P's silver row with
D's lineage (delivery, file, row, period, production and ingest times, hash); every
other row of D is cleaned as usual. A row that P quarantined is never carried. The
result equals cleaning D whole (tests/unit/test_clean_carry.py checks it on moved and
changed persons, a division that became obsolete and a birth date that only D's later
``produced_at`` makes plausible; tests/integration/test_clean_carry_city.py on generated
months).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from civlake import tables
from civlake.clean.divisions import current_codes
from civlake.contracts import FeedContract

LINEAGE = tables.SILVER_LINEAGE
_INDEX = "__carry_row"


@dataclass(frozen=True)
class Carried:
    silver: pa.Table  # D's carried rows, in silver's schema
    rest: pa.Table  # D's bronze rows still to clean


def predecessors(audit: list[dict], pending: list[dict]) -> dict[str, str]:
    """For each pending full delivery, the delivery id of the same feed and unit's latest
    full delivery already cleaned (loaded, rows_silver set) and produced no later."""
    done = [
        a for a in audit
        if a["status"] == "loaded" and a["mode"] == "full" and a["rows_silver"] is not None
    ]  # fmt: skip
    out = {}
    for d in pending:
        if d["mode"] != "full" or not d["produced_at"]:
            continue
        earlier = [
            a for a in done
            if (a["feed_id"], a["source_unit"]) == (d["feed_id"], d["source_unit"])
            and a["delivery_id"] != d["delivery_id"] and a["produced_at"]
            and a["produced_at"] <= d["produced_at"]
        ]  # fmt: skip
        if earlier:
            latest = max(earlier, key=lambda a: (a["produced_at"], a["delivery_id"]))
            out[d["delivery_id"]] = latest["delivery_id"]
    return out


def day(produced_at) -> date | None:
    try:
        return date.fromisoformat(str(produced_at)[:10])
    except ValueError:
        return None


def carry(
    contract: FeedContract, bronze: pa.Table, previous: pa.Table, divmap: pa.Table
) -> Carried:
    """Split one pending delivery's bronze rows into carried silver rows and the rest.

    ``previous`` is P's silver rows, or only those with the hashes of ``bronze`` (all the
    join can use: the clean gate reads no more of P per slice). Both must each be one
    delivery."""
    if len(bronze) == 0 or previous is None or len(previous) == 0:
        return Carried(tables.silver_schema(contract).empty_table(), bronze)
    d_day = day(bronze["_produced_at"][0].as_py())
    p_day = day(previous["_produced_at"][0].as_py())
    if d_day is None or p_day is None or p_day > d_day:
        return Carried(tables.silver_schema(contract).empty_table(), bronze)
    candidates = previous
    for col in contract.id_columns:
        status = candidates[f"{col}_status"]
        candidates = candidates.filter(pc.fill_null(pc.not_equal(status, "invalid"), True))
    # Identical rows clean identically: one previous row per hash is enough.
    pos = pa.array(range(len(candidates)), pa.int64())
    firsts = (
        candidates.select(["_row_hash"]).append_column("__pos", pos)
        .group_by("_row_hash", use_threads=False).aggregate([("__pos", "min")])
    )  # fmt: skip
    # Join the hashes only (with row numbers on both sides), then take the rows: joining
    # the value columns made Acero copy every string through its hash table.
    d_at = pa.table({"_row_hash": bronze["_row_hash"],
                     _INDEX: pa.array(range(len(bronze)), pa.int64())})  # fmt: skip
    pairs = d_at.join(firsts, "_row_hash", join_type="inner", use_threads=False)
    values = candidates.take(pairs["__pos_min"]).drop_columns(
        [c for c in LINEAGE if c != "_row_hash"]
    )
    return repeated(contract, bronze, pairs[_INDEX], values, divmap)


def repeated(
    contract: FeedContract, bronze: pa.Table, at, values: pa.Table, divmap: pa.Table
) -> Carried:
    """Split ``bronze`` (one pending delivery's rows) given its repeated rows: the
    previous snapshot's silver values ``values`` (any lineage columns ignored, candidates
    only: no ``invalid`` ID) of the bronze rows at positions ``at`` (int64, distinct),
    one value row per position. The division check and D's lineage are applied here.

    The checks read narrow columns and the wide rows are taken once: filtering and
    sorting the joined table copied every string column twice per slice."""
    schema = tables.silver_schema(contract)
    at = pa.chunked_array(_chunks(at), pa.int64()).combine_chunks()
    # Today's division map must give what P's row holds (a code may have become obsolete).
    keep = None
    for name in (c.name for c in contract.of_kind("division")):
        delivered, held = values[f"{name}_delivered"], values[name]
        same = pc.fill_null(pc.or_kleene(
            pc.and_kleene(pc.is_null(delivered), pc.is_null(held)),
            pc.equal(current_codes(delivered, divmap), held),
        ), False)  # fmt: skip
        keep = same if keep is None else pc.and_(keep, same)
    rows = np.arange(len(at))
    if keep is not None:
        rows = rows[keep.to_numpy(zero_copy_only=False)]
    pos = at.to_numpy()[rows]
    order = np.argsort(pos, kind="stable")  # bronze order
    rows, pos = rows[order], pos[order]
    # Usually every row of ``values``, already in bronze order: no copy then.
    whole = len(rows) == len(values) and bool((rows == np.arange(len(rows))).all())
    picked = values if whole else values.take(pa.array(rows))
    lineage = bronze.select(LINEAGE).take(pa.array(pos))
    carried = pa.Table.from_arrays(
        [(lineage if f.name in LINEAGE else picked)[f.name].cast(f.type) for f in schema],
        schema=schema,
    )
    rest = np.ones(len(bronze), dtype=bool)
    rest[pos] = False
    return Carried(carried, bronze.filter(pa.array(rest)))


def _chunks(at) -> list:
    return at.chunks if isinstance(at, pa.ChunkedArray) else [at]
