"""Delivery-level faults: a duplicate, a resubmission, and extra deliveries that must be
rejected (or left pending). Rejected and pending deliveries only ever carry copies of
donations to an active charity, so whatever a pipeline does with them, no finding moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from civlake.generate.contracts_view import names
from civlake.generate.delivery import Delivery, FileSpec, money
from civlake.generate.render_registers import CITY, CITY_UNITS, elderly_table
from civlake.generate.table import Table
from civlake.generate.timeline import monthly_produced
from civlake.generate.world import World

REJECTS = [
    ("hash", "HASH_MISMATCH"),
    ("rows", "ROWCOUNT_MISMATCH"),
    ("schema", "SCHEMA_MISMATCH"),
    ("encoding", "ENCODING_ERROR"),
    ("manifest", "MANIFEST_INVALID"),
]


def resubmission(world: World, deliveries: list[Delivery]) -> None:
    """The latest elderly register is sent twice: first with rows missing and a tier
    wrong (it would plant false GL findings), then corrected two days later."""
    latest = world.tl.latest
    k = next(
        i for i, d in enumerate(deliveries) if d.feed == "elderly_allowance" and d.period == latest
    )
    good = deliveries[k]
    bad_table = elderly_table(world, latest)
    keep = np.ones(bad_table.n, bool)
    keep[: min(3, bad_table.n)] = False
    bad = Table(bad_table.feed, bad_table.columns, {c: v[keep] for c, v in bad_table.cols.items()},
                {r: v[keep] for r, v in bad_table.persons.items()})  # fmt: skip
    if bad.n:
        bad.cols["tier"][0], bad.cols["monthly_standard"][0] = "100岁以上", money(600)
    first = replace(good, files=[replace(good.files[0], table=bad)], expected="superseded")
    on, _ = monthly_produced(latest)
    on2 = on + timedelta(days=2)
    deliveries[k] = replace(good, produced_on=on2, produced_at=f"{on2.isoformat()}T10:00:00+08:00")
    deliveries.insert(k, first)


def duplicate(deliveries: list[Delivery]) -> Delivery | None:
    """The last marriage delivery re-sent the next day under a new delivery_id."""
    src = next((d for d in reversed(deliveries) if d.feed == "marriage_registrations"), None)
    if src is None:
        return None
    on = src.produced_on + timedelta(days=1)
    return replace(src, produced_on=on, produced_at=f"{on.isoformat()}T02:00:00+08:00", seq=9,
                   expected="duplicate", copy_of=src)  # fmt: skip


def _donation_copy(world: World, k: int) -> Table:
    org = next(o for o in world.orgs if o.status == "正常" and not o.abnormal and o.is_charity)
    day = world.tl.end
    rows = [
        {"donation_no": f"DX{k:02d}{j:05d}", "org_uscc": org.uscc, "org_name": org.name, "donor_type": "个人",
         "donor_name": "匿名爱心人士", "amount": money(50 * (j + 1)), "donated_at": f"{day.isoformat()}T20:{j:02d}:00+08:00",
         "pay_channel": "微信支付", "receipt_issued": "否"}
        for j in range(3)
    ]  # fmt: skip
    return Table.from_rows("charity_donations", names("charity_donations"), rows)


def rejects(world: World) -> list[Delivery]:
    day = world.tl.end
    on = day + timedelta(days=1)
    out = []
    for k, (fault, reason) in enumerate([*REJECTS, ("pending", None)], start=2):
        spec = FileSpec(
            f"捐赠明细_{day:%Y%m%d}_补充{k}.csv", "csv", "UTF-8", _donation_copy(world, k)
        )
        if fault == "schema":
            spec.drop_header = "amount"
        out.append(Delivery(
            "charity_donations", CITY, CITY_UNITS["charity_donations"], day.isoformat(), "incremental", on,
            f"{on.isoformat()}T0{k}:15:00+08:00", [spec], seq=k + 10,
            expected="pending" if fault == "pending" else "rejected", reason=reason,
            fault=None if fault == "schema" else fault,
        ))  # fmt: skip
    return out
