"""City policy (SOURCE_FEEDS.md section 5): what is due to whom in which month.

The one implementation of the entitlement rules inside the generator: background payments
are drawn from it and the oracle's findings are computed with it, so the two agree.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from civlake.generate.timeline import add_months, first_day, month_of
from civlake.generate.world import World

GL_TIERS = (("100岁以上", 100, 600), ("90-99岁", 90, 300), ("80-89岁", 80, 100))
CJHL = {1: 300, 2: 200}
CJSH = 200
CHILD = {"孤儿": "GE", "事实无人抚养儿童": "SW"}


def child_standard(placement: str) -> int:
    return 2500 if placement == "机构养育" else 1900


def gl_tier(age: int) -> tuple[str, int] | None:
    for tier, floor, std in GL_TIERS:
        if age >= floor:
            return tier, std
    return None


def age_on(birth: np.datetime64, day: date) -> int:
    b = birth.astype("datetime64[D]").item()
    return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def gl_first_month(birth: np.datetime64) -> str:
    """The month after the month of the 80th birthday."""
    b = str(birth)
    return add_months(f"{int(b[:4]) + 80:04d}-{b[5:7]}", 1)


def in_city(world: World, idx: int, month: str) -> bool:
    status = world.hukou_status(idx, month)
    return status is not None and status not in ("迁出", "注销")


def gl_due(world: World, idx: int, month: str) -> tuple[str, int] | None:
    birth = world.pop.birth[idx]
    if month < gl_first_month(birth) or not in_city(world, idx, month):
        return None
    if not world.alive_in(idx, month):
        return None
    return gl_tier(age_on(birth, first_day(month)))


def cert_active(cert, month: str) -> bool:
    return cert.status.get(month) == "有效" and cert.valid_until >= first_day(month)


def assistance_active(world: World, month: str) -> dict[int, list]:
    """person -> active (在保) households they are a member of in month."""
    out: dict[int, list] = {}
    for h in world.households:
        if h.status.get(month) == "在保":
            for idx, _ in h.members:
                if world.member_in(h, idx, month):
                    out.setdefault(idx, []).append(h)
    return out


def entitlements(world: World) -> dict[tuple[int, str, str], int]:
    """(person, programme, month) -> amount due, for every month of the window."""
    due: dict[tuple[int, str, str], int] = {}
    pop = world.pop
    for m in world.tl.months:
        active = assistance_active(world, m)
        for h in world.households:
            if h.status.get(m) == "在保" and world.alive_in(h.head, m):
                prog = {"低保": "DB", "特困": "TK", "低保边缘": "DBBY"}[h.kind]
                due[(h.head, prog, m)] = due.get((h.head, prog, m), 0) + h.amount
        for c in world.certs:
            if not cert_active(c, m) or not world.alive_in(c.idx, m):
                continue
            if c.grade in CJHL:
                due[(c.idx, "CJHL", m)] = CJHL[c.grade]
            if any(h.kind in ("低保", "特困") for h in active.get(c.idx, [])):
                due[(c.idx, "CJSH", m)] = CJSH
        for ch in world.children:
            prog = CHILD.get(ch.category)
            if prog and ch.status.get(m) == "在册" and world.alive_in(ch.idx, m):
                due[(ch.idx, prog, m)] = child_standard(ch.placement)
        # GL: only persons aged 80+ on the last day of the month can be due.
        cutoff = np.datetime64(first_day(m)) - np.timedelta64(80 * 366, "D")
        old = np.flatnonzero(pop.birth <= cutoff + np.timedelta64(800, "D"))
        for idx in old:
            tier = gl_due(world, int(idx), m)
            if tier:
                due[(int(idx), "GL", m)] = tier[1]
    return due


def death_month(world: World, idx: int) -> str | None:
    d = world.deaths.get(idx)
    return month_of(d.date) if d else None
