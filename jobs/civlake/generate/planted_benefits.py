"""Planted benefit cases (DEATH_PAID, DUP_ASSIST, GL_UNCLAIMED, GL_TIER_WRONG) and their
near misses; payment cases are in `planted_payments`.

Each case takes fresh persons (`World.take`) so cases never overlap, and shapes only that
person's registers and payments; the oracle then computes the findings from the result.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from civlake.generate.background import add_death
from civlake.generate.policy import age_on, gl_due
from civlake.generate.timeline import first_day
from civlake.generate.world import ElderlyEntry, Household, World
from civlake.identifiers import id_check_char


def _age(world: World) -> np.ndarray:
    return world.age0()


def _elig(world: World) -> np.ndarray:
    return world.pop.in_hukou & (world.pop.status == "正常")


def rebirth(world: World, idx: int, birth: date) -> None:
    """Give a person a new birth date (and the matching ID: same area and sequence)."""
    p = world.pop
    old = str(p.id_number[idx])
    seq = old[14:17]
    while True:
        body = old[:6] + birth.strftime("%Y%m%d") + seq
        new = body + id_check_char(body)
        if not world.id_taken(new):
            break
        seq = f"{(int(seq) + 2) % 1000:03d}"
    p.birth[idx] = np.datetime64(birth)
    p.id_number[idx] = new
    world.id_changed(old, new)
    world.age0()[idx] = age_on(p.birth[idx], world.tl.start)
    for c in world.certs:
        if c.idx == idx:
            c.cert_no = new + c.cert_no[18:]


def _in_register_all(world: World, idx: int) -> bool:
    return all(
        idx in world.elderly[m] and world.elderly[m][idx].status == "正常" for m in world.tl.months
    )


def _elderly(world: World, k: int, lo: int = 81, hi: int = 88) -> list[int]:
    """k free persons aged lo..hi, active in the register all window (made so if needed:
    small test cities have too few old people for every case)."""
    age = _age(world)
    cand = _elig(world) & (age >= lo) & (age <= hi) & ~world.no_die & ~world.used
    have = min(k, int(cand.sum()))
    picks = [i for i in world.take(cand, have) if _in_register_all(world, i)]
    if len(picks) < k:
        extra = world.take(_elig(world) & (age >= 30) & (age < 80) & ~world.no_die, k - len(picks))
        for idx in extra:
            years = int(world.rng.integers(lo, hi + 1))
            b = world.tl.start - timedelta(days=365 * years + int(world.rng.integers(30, 300)))
            rebirth(world, idx, b)
            for m in world.tl.months:
                due = gl_due(world, idx, m)
                world.elderly[m][idx] = ElderlyEntry(idx, due[0], due[1], "2020-01")
            picks.append(idx)
    return picks


def plant_death_paid(world: World, n: int) -> None:
    months = world.tl.months
    if len(months) < 2:
        return
    for idx in _elderly(world, n):
        dm = months[int(world.rng.integers(0, len(months) - 1))]
        add_death(world, idx, dm, cert=True)
        # The register was never told: still 正常, and GL keeps being paid after death.
        for m in months:
            if m > dm:
                entry = world.elderly[m][idx]
                world.extra_pay.append((idx, "GL", m, entry.standard, "success"))
        world.planted.append(("DEATH_PAID", idx, f"GL paid after death in {dm}"))
    # Near misses: background deaths earlier in the window, and deaths in the latest month
    # (paid for the month of death only).
    planted = {i for rule, i, _ in world.planted if rule == "DEATH_PAID"}
    background = [(i, d) for i, d in sorted(world.deaths.items()) if i not in planted]
    for idx, d in background[:n]:
        world.near_misses.append(
            ("DEATH_PAID", idx, f"died {d.date}; paid up to the month of death only")
        )
    for idx in _elderly(world, max(1, n // 2)):
        add_death(world, idx, months[-1], cert=True)
        world.near_misses.append(
            ("DEATH_PAID", idx, f"died in {months[-1]}, paid for that month only")
        )


def _households(world: World, kind: str, month: str) -> list[Household]:
    return [h for h in world.households if h.kind == kind and h.status.get(month) == "在保"]


def plant_dup_assist(world: World, n: int) -> None:
    months = world.tl.months
    age = _age(world)
    people = world.take(_elig(world) & (age >= 25) & (age <= 60), n + 1)
    dibao = [
        h
        for h in _households(world, "低保", months[0])
        if all(h.status.get(m) == "在保" for m in months)
    ]
    by_district: dict[str, list[Household]] = {}
    for h in dibao:
        by_district.setdefault(h.district, []).append(h)
    for k, idx in enumerate(people[:-1]):
        a = dibao[k % len(dibao)]
        # The k-th household of another district (districts in rotation).
        districts = [d for d in sorted(by_district) if d != a.district] or [a.district]
        pool = [h for h in by_district[districts[k % len(districts)]] if h is not a] or [a]
        b = pool[(k // len(districts)) % len(pool)]
        a.members.append((idx, "子女"))
        start = 0 if k % 2 == 0 or len(months) == 1 else len(months) // 2
        if start == 0:
            b.members.append((idx, "其他"))
        else:
            # Joined the second household mid-window: a new household listing from start.
            b.members.append((idx, "其他"))
            world.member_from[(b.family_no, idx)] = months[start]
        world.planted.append(
            ("DUP_ASSIST", idx, f"in {a.family_no} and {b.family_no} from {months[start]}")
        )
    # Near miss: moved from one household to another without overlap.
    if len(months) >= 2:
        idx = people[-1]
        a, b = dibao[0], dibao[-1]
        a.members.append((idx, "子女"))
        world.member_until[(a.family_no, idx)] = months[-2]
        b.members.append((idx, "子女"))
        world.member_from[(b.family_no, idx)] = months[-1]
        world.near_misses.append(("DUP_ASSIST", idx, "moved households with no overlapping month"))


def plant_gl(world: World, n: int) -> None:
    months, latest = world.tl.months, world.tl.latest
    # GL_UNCLAIMED: never in the register / suspended (暂停) in the latest month.
    for k, idx in enumerate(_elderly(world, n)):
        for m in months:
            if k % 2 == 0 or m == latest:
                if k % 2 == 0:
                    world.elderly[m].pop(idx, None)
                else:
                    world.elderly[m][idx].status = "暂停"
        world.planted.append(
            ("GL_UNCLAIMED", idx, "not active in the register in the latest month")
        )
    # GL_TIER_WRONG: 92-year-olds listed at 80-89 / 100 (paid correctly).
    for k, idx in enumerate(_elderly(world, n, 91, 97)):
        for m in months:
            e = world.elderly[m][idx]
            if k % 2 == 0:
                e.tier, e.standard = "80-89岁", 100
            else:
                e.standard = 100  # tier right, standard wrong
        world.planted.append(("GL_TIER_WRONG", idx, "register tier/standard below age"))
    # Turned 90 during the window and the register was not updated.
    if len(months) >= 2:
        for idx in _elderly(world, max(1, n // 2), 82, 88):
            b = first_day(months[0]).replace(day=15)
            rebirth(world, idx, b.replace(year=b.year - 90))
            for m in months:
                due = gl_due(world, idx, m)
                assert due is not None
                world.elderly[m][idx] = ElderlyEntry(idx, "80-89岁", 100, "2016-01")
            world.planted.append(
                ("GL_TIER_WRONG", idx, "turned 90 in the window, tier not updated")
            )
    # Near miss: turned 80 in the latest month: due only from next month.
    age = _age(world)
    for idx in world.take(_elig(world) & (age >= 40) & (age <= 78) & ~world.no_die, n):
        b = first_day(latest).replace(day=int(world.rng.integers(1, 28)))
        rebirth(world, idx, b.replace(year=b.year - 80))
        world.near_misses.append(
            ("GL_UNCLAIMED", idx, f"turned 80 in {latest}: due from next month")
        )
    # Near miss: 80+ but moved out (迁出): not due, not in the register.
    moved = np.flatnonzero((world.pop.status == "迁出") & (_age(world) >= 81))[:n]
    for idx in moved:
        world.near_misses.append(("GL_UNCLAIMED", int(idx), "80+ but hukou 迁出: not due"))
