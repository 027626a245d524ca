"""Planted payment cases (CJHL/CJSH_UNCLAIMED, PAY_NO_BASIS, PAY_AMOUNT_WRONG,
NOT_IN_HUKOU) and their near misses. Helpers shared with the other planted modules live in
`planted_benefits`."""

from __future__ import annotations

from datetime import date, timedelta

from civlake.generate.planted_benefits import _age, _elderly, _elig, rebirth
from civlake.generate.timeline import last_day
from civlake.generate.world import Cert, ChildEntry, Household, World


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
    for idx in world.take(_elig(world) & (age >= 40) & (age <= 78), n):
        for m in span:
            world.extra_pay.append((idx, "GL", m, 100, "success"))
        world.planted.append(("PAY_NO_BASIS", idx, "GL paid under 80"))
    for c in _certs(world, (3, 4), max(1, n // 2)):
        world.extra_pay.append((c.idx, "CJHL", latest, 200, "success"))
        world.planted.append(("PAY_NO_BASIS", c.idx, f"CJHL paid for grade {c.grade}"))
    # Near misses: a no-basis payment that came back; a success later marked returned.
    for idx in world.take(_elig(world) & (age >= 40) & (age <= 78), n):
        world.extra_pay.append((idx, "GL", latest, 100, "returned"))
        world.near_misses.append(("PAY_NO_BASIS", idx, "payment returned: not paid"))
    if len(months) >= 2:
        for idx in world.take(_elig(world) & (age >= 40) & (age <= 78), n):
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
        near = adults & (world.district() == district)
        g = world.take(near if (near & ~world.used).any() else adults, 1)[0]
        ch = ChildEntry(
            idx, "孤儿", "社会散居", g, "祖父母", str(p.division[idx]), date(2023, 2, 1)
        )
        ch.status = dict.fromkeys(months, "在册")
        world.children.append(ch)
        world.planted.append(("NOT_IN_HUKOU", idx, "孤儿 in the register without hukou"))
