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


def _day(produced_at) -> date | None:
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
    d_day = _day(bronze["_produced_at"][0].as_py())
    p_day = _day(previous["_produced_at"][0].as_py())
    if d_day is None or p_day is None or p_day > d_day:
        return Carried(tables.silver_schema(contract).empty_table(), bronze)
    schema = tables.silver_schema(contract)
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
    values = candidates.take(firsts["__pos_min"]).drop_columns(
        [c for c in LINEAGE if c != "_row_hash"]
    )
    d = bronze.append_column(_INDEX, pa.array(range(len(bronze)), pa.int64()))
    joined = d.select([_INDEX, *LINEAGE]).join(values, "_row_hash", join_type="inner",
                                                use_threads=False)  # fmt: skip
    # Today's division map must give what P's row holds (a code may have become obsolete).
    for name in (c.name for c in contract.of_kind("division")):
        now_code = current_codes(joined[f"{name}_delivered"], divmap)
        same = pc.or_kleene(
            pc.and_kleene(pc.is_null(joined[f"{name}_delivered"]), pc.is_null(joined[name])),
            pc.equal(now_code, joined[name]),
        )
        joined = joined.filter(pc.fill_null(same, False))
    joined = joined.sort_by(_INDEX)
    carried = pa.Table.from_arrays([joined[f.name].cast(f.type) for f in schema], schema=schema)
    taken = joined[_INDEX]
    rest = d.filter(pc.invert(pc.is_in(d[_INDEX], value_set=taken))).drop_columns([_INDEX])
    return Carried(carried, rest)
