"""Planted benefit cases (DEATH_PAID, DUP_ASSIST, GL_*, CJHL/CJSH_UNCLAIMED, PAY_*,
NOT_IN_HUKOU) and their near misses.

Each case takes fresh persons (`World.take`) so cases never overlap, and shapes only that
person's registers and payments; the oracle then computes the findings from the result.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from civlake.generate.background import add_death
from civlake.generate.ids import id_check_char
from civlake.generate.policy import age_on, gl_due
from civlake.generate.timeline import first_day, last_day
from civlake.generate.world import Cert, ChildEntry, ElderlyEntry, Household, World


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


def _certs(world: World, grades: tuple[int, ...], k: int) -> list[Cert]:
    out = _find_certs(world, grades, k)
    age = _age(world)
    for idx in world.take(_elig(world) & (age >= 20) & (age <= 75) & ~world.no_die, k - len(out)):
        grade = grades[len(out) % len(grades)]
        c = Cert(
            idx,
            f"{world.pop.id_number[idx]}4{grade}",
            "肢体",
            grade,
            date(2021, 4, 1),
            date(2031, 3, 31),
        )
        c.status = dict.fromkeys(world.tl.months, "有效")
        world.certs.append(c)
        out.append(c)
    return out


def _find_certs(world: World, grades: tuple[int, ...], k: int) -> list[Cert]:
    members = {i for h in world.households for i, _ in h.members}
    out = []
    for c in world.certs:
        if (
            c.grade in grades and not world.used[c.idx] and not world.no_die[c.idx]
            and c.idx not in members and c.idx not in world.deaths
            and all(v == "有效" for v in c.status.values()) and c.valid_until >= world.tl.end
            and world.pop.in_hukou[c.idx] and world.pop.status[c.idx] == "正常"
        ):  # fmt: skip
            world.used[c.idx] = world.no_die[c.idx] = True
            out.append(c)
            if len(out) == k:
                break
    return out


def plant_disability(world: World, n: int) -> None:
    months, latest = world.tl.months, world.tl.latest
    for k, c in enumerate(_certs(world, (1, 2), n)):
        if k % 3 == 0:
            world.pay_suppress.add((c.idx, "CJHL", latest))
        elif k % 3 == 1:
            world.pay_suppress.add((c.idx, "CJHL", latest))
            world.extra_pay.append(
                (c.idx, "CJHL", latest, 300 if c.grade == 1 else 200, "returned")
            )
        else:
            world.pay_suppress.update((c.idx, "CJHL", m) for m in months)
        world.planted.append(("CJHL_UNCLAIMED", c.idx, f"grade {c.grade}, not paid in {latest}"))
    # Near miss: certificate expired before the latest month: nothing due then.
    if len(months) >= 2:
        for c in _certs(world, (1, 2), max(1, n // 2)):
            c.valid_until = last_day(months[-2])
            world.near_misses.append(
                ("CJHL_UNCLAIMED", c.idx, "certificate expired before the latest month")
            )
    # CJSH: disabled members of active 低保/特困 households.
    active = [
        h
        for h in world.households
        if h.kind in ("低保", "特困") and all(h.status.get(m) == "在保" for m in months)
    ]
    taken = 0
    holders = {c.idx for c in world.certs}
    planted = {p[1] for p in world.planted}
    for h in active:
        if taken >= n:
            break
        for idx, _rel in h.members:
            if idx == h.head or idx in planted or idx in holders:
                continue
            cert = Cert(
                idx, f"{world.pop.id_number[idx]}53", "智力", 3, date(2019, 5, 6), date(2029, 5, 5)
            )
            cert.status = dict.fromkeys(months, "有效")
            world.certs.append(cert)
            holders.add(idx)
            world.pay_suppress.add((idx, "CJSH", latest))
            world.planted.append(("CJSH_UNCLAIMED", idx, f"disabled member of {h.family_no}"))
            taken += 1
            break
    edge = [
        h
        for h in world.households
        if h.kind == "低保边缘" and all(h.status.get(m) == "在保" for m in months)
    ]
    for h in edge[:n]:
        idx = h.head
        if idx not in holders:
            holders.add(idx)
            cert = Cert(
                idx, f"{world.pop.id_number[idx]}14", "视力", 4, date(2018, 3, 1), date(2028, 2, 28)
            )
            cert.status = dict.fromkeys(months, "有效")
            world.certs.append(cert)
            world.near_misses.append(
                ("CJSH_UNCLAIMED", idx, "disabled member of a 低保边缘 household: not due")
            )


def plant_payments(world: World, n: int) -> None:
    months, latest = world.tl.months, world.tl.latest
    age = _age(world)
    span = months[-2:] if len(months) >= 2 else months
    # PAY_NO_BASIS: GL to a 60-75-year-old; CJHL to a grade-3 certificate holder.
    for idx in world.take(_elig(world) & (age >= 60) & (age <= 75), n):
        for m in span:
            world.extra_pay.append((idx, "GL", m, 100, "success"))
        world.planted.append(("PAY_NO_BASIS", idx, "GL paid under 80"))
    for c in _certs(world, (3, 4), max(1, n // 2)):
        world.extra_pay.append((c.idx, "CJHL", latest, 200, "success"))
        world.planted.append(("PAY_NO_BASIS", c.idx, f"CJHL paid for grade {c.grade}"))
    # Near misses: a no-basis payment that came back; a success later marked returned.
    for idx in world.take(_elig(world) & (age >= 60) & (age <= 75), n):
        world.extra_pay.append((idx, "GL", latest, 100, "returned"))
        world.near_misses.append(("PAY_NO_BASIS", idx, "payment returned: not paid"))
    if len(months) >= 2:
        for idx in world.take(_elig(world) & (age >= 60) & (age <= 75), n):
            world.resent.append((idx, "GL", months[-2], 100, "success", "returned"))
            world.near_misses.append(("PAY_NO_BASIS", idx, "success superseded by returned"))
    # PAY_AMOUNT_WRONG: GL overpaid (300 instead of 100), DB underpaid by 100.
    for idx in _elderly(world, n, 81, 87):
        for m in span:
            world.pay_amount[(idx, "GL", m)] = 300
        world.planted.append(("PAY_AMOUNT_WRONG", idx, "GL paid 300 instead of 100"))
    heads = [h for h in world.households if not world.used[h.head] or True]
    hits = 0
    for h in heads:
        if hits >= n:
            break
        if h.kind != "低保" or not all(h.status.get(m) == "在保" for m in months):
            continue
        if any(p[0] == "DUP_ASSIST" and p[1] in {i for i, _ in h.members} for p in world.planted):
            continue
        for m in months:
            world.pay_amount[(h.head, "DB", m)] = h.amount - 100
        world.planted.append(("PAY_AMOUNT_WRONG", h.head, f"DB underpaid by 100 for {h.family_no}"))
        hits += 1


def plant_not_in_hukou(world: World, n: int) -> None:
    months = world.tl.months
    p = world.pop
    age = _age(world)
    outsiders = world.take(~p.in_hukou & (age >= 18) & ~world.no_die, n)
    for k, idx in enumerate(outsiders):
        h = Household(
            f"{p.division[idx][:6]}9{k + 1:05d}", str(p.division[idx]), "低保", idx, [(idx, "本人")],
            1120, date(2024, 3, 1), dict.fromkeys(months, "在保"), handler="王敏",
        )  # fmt: skip
        world.households.append(h)
        world.planted.append(("NOT_IN_HUKOU", idx, f"低保 head of {h.family_no} without hukou"))
    kids = world.take(~p.in_hukou & ~world.no_die, max(1, n // 2))
    adults = _elig(world) & (age >= 35) & (age <= 65)
    for idx in kids:
        rebirth(
            world, idx, world.tl.start - timedelta(days=365 * 8 + int(world.rng.integers(0, 700)))
        )
        district = p.division[idx][:6]
        g = world.take(adults & (world.district() == district), 1)[0]
        ch = ChildEntry(
            idx, "孤儿", "社会散居", g, "祖父母", str(p.division[idx]), date(2023, 2, 1)
        )
        ch.status = dict.fromkeys(months, "在册")
        world.children.append(ch)
        world.planted.append(("NOT_IN_HUKOU", idx, "孤儿 in the register without hukou"))
