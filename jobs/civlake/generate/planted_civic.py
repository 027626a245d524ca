"""Planted identity, organisation, marriage and guardian cases (ID_MISMATCH,
ORG_INACTIVE_DONATION, MARRIED_TWICE, GUARDIAN_DECEASED) and their near misses."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from civlake.generate.background import add_death
from civlake.generate.civic import active_charities, add_donation
from civlake.generate.names import FEMALE_CHARS, MALE_CHARS
from civlake.generate.timeline import first_day, last_day
from civlake.generate.world import Marriage, World


def _age(world: World) -> np.ndarray:
    return world.age0()


def _elig(world: World) -> np.ndarray:
    return world.pop.in_hukou & (world.pop.status == "正常")


def claimed(world: World) -> set[int]:
    return {p[1] for p in world.planted} | {p[1] for p in world.near_misses}


def _other_name(world: World, idx: int) -> str:
    name = str(world.pop.name[idx])
    pool = MALE_CHARS if world.pop.sex[idx] == "1" else FEMALE_CHARS
    for ch in pool:
        if ch not in name:
            return name[:-1] + ch
    return name + "华"


def plant_id_mismatch(world: World, n: int) -> None:
    months = world.tl.months
    age = _age(world)
    # Name differs in the elderly register.
    in_all = [i for i in world.elderly[months[0]] if all(i in world.elderly[m] for m in months)]
    free = [i for i in in_all if not world.used[i]][:n]
    for idx in free:
        world.used[idx] = True
        wrong = _other_name(world, idx)
        for m in months:
            world.elderly[m][idx].name = wrong
        world.planted.append(("ID_MISMATCH", idx, f"elderly_allowance name {wrong}"))
    # Sex contradicts the ID in the disability certificate; 0 / 9 are not contradictions.
    certs = [
        c
        for c in world.certs
        if not world.used[c.idx]
        and c.valid_until >= world.tl.end
        and all(v == "有效" for v in c.status.values())
    ]
    for k, c in enumerate(certs[: 2 * n]):
        world.used[c.idx] = True
        if k < n:
            c.sex = "1" if world.pop.sex[c.idx] == "2" else "2"
            world.planted.append(("ID_MISMATCH", c.idx, "disability_certs sex"))
        else:
            c.sex = "9" if k % 2 else "0"
            world.near_misses.append(
                ("ID_MISMATCH", c.idx, f"sex {c.sex} (unknown) is not a mismatch")
            )
    # Birth date off by a year in child welfare.
    kids = [ch for ch in world.children if ch.idx not in claimed(world)][: max(1, n // 2)]
    for ch in kids:
        b = str(world.pop.birth[ch.idx])
        ch.birth = f"{int(b[:4]) - 1}{b[4:]}" if b[5:] != "02-29" else f"{int(b[:4]) - 1}-02-28"
        world.planted.append(("ID_MISMATCH", ch.idx, f"child_welfare birth_date {ch.birth}"))
    # Birth date wrong for the bride in a marriage registration.
    people = world.take(_elig(world) & (age >= 24) & (age <= 40), 2 * max(1, n // 2))
    for k in range(0, len(people) - 1, 2):
        m, f = people[k], people[k + 1]
        if world.pop.sex[m] == world.pop.sex[f]:
            continue
        if world.pop.sex[m] == "2":
            m, f = f, m
        reg = _registration(world, "结婚登记", first_day(months[0]) + timedelta(days=5), m, f)
        b = str(world.pop.birth[f])
        reg.female_birth = b[:8] + ("01" if b[8:] != "01" else "02")
        world.planted.append(("ID_MISMATCH", f, "marriage_registrations birth_date"))


def _registration(world: World, kind: str, on: date, male: int, female: int) -> Marriage:
    district = str(world.pop.division[male])[:6]
    reg = Marriage(
        f"P{district}-{on:%Y}-{len(world.marriages) + 1:06d}", kind, on, district, male, female
    )
    world.marriages.append(reg)
    return reg


def plant_marriages(world: World, n: int) -> None:
    tl = world.tl
    age = _age(world)
    base = _elig(world) & (age >= 22) & (age <= 60)
    d1 = tl.start + timedelta(days=2)
    d2 = d1 + timedelta(days=max(3, (tl.end - tl.start).days // 3))
    d3 = d2 + timedelta(days=max(3, (tl.end - tl.start).days // 3))
    male, female = base & (world.pop.sex == "1"), base & (world.pop.sex == "2")
    for k in range(n):
        men = world.take(male, 2 if k % 2 else 1)
        women = world.take(female, 1 if k % 2 else 2)
        if k % 2 == 0:  # a man marries twice
            _registration(world, "结婚登记", d1, men[0], women[0])
            _registration(world, "结婚登记", d2, men[0], women[1])
            world.planted.append(("MARRIED_TWICE", men[0], "second 结婚登记 while married"))
        else:  # a woman marries twice
            _registration(world, "结婚登记", d1, men[0], women[0])
            _registration(world, "结婚登记", d2, men[1], women[0])
            world.planted.append(("MARRIED_TWICE", women[0], "second 结婚登记 while married"))
    for k in range(n):
        men = world.take(male, 1)
        women = world.take(female, 2)
        _registration(world, "结婚登记", d1, men[0], women[0])
        variant = k % 4
        if variant == 0:
            _registration(world, "离婚登记", d2, men[0], women[0])
            note = "divorced, then remarried"
        elif variant == 1:
            _registration(world, "补领结婚证", d2, men[0], women[0])
            note = "补领结婚证 is not a new marriage"
        elif variant == 2:
            _registration(world, "撤销婚姻", d2, men[0], women[0])
            note = "marriage annulled (撤销婚姻), then remarried"
        else:
            add_death(world, women[0], f"{d2:%Y-%m}", day=min(d2.day, 20), cert=True)
            note = "spouse died, then remarried"
        if variant != 1:
            _registration(world, "结婚登记", d3, men[0], women[1])
        world.near_misses.append(("MARRIED_TWICE", men[0], note))


def plant_guardians(world: World, n: int) -> None:
    months = world.tl.months
    if len(months) < 2:
        return
    taken = claimed(world)
    free = [ch for ch in world.children if ch.idx not in taken and ch.guardian is not None]
    for k, ch in enumerate(free[: n + max(1, n // 2)]):
        if k < n:
            add_death(
                world, ch.guardian, months[int(world.rng.integers(0, len(months) - 1))], cert=True
            )
            world.planted.append(
                ("GUARDIAN_DECEASED", ch.idx, "guardian died before the latest month")
            )
        else:
            add_death(world, ch.guardian, months[-1], cert=True)
            world.near_misses.append(
                ("GUARDIAN_DECEASED", ch.idx, "guardian died in the latest month")
            )


def plant_orgs(world: World, n: int) -> None:
    tl = world.tl
    charities = active_charities(world)
    world.rng.shuffle(charities)
    n = max(1, min(n, len(charities) // 4))  # leave most charities active for the background
    picks = charities[: 2 * n]
    for k, org_i in enumerate(picks[:n]):
        org = world.orgs[org_i]
        if k % 3 == 2:
            org.abnormal = True
            add_donation(world, org_i, first_day(tl.latest) + timedelta(days=8))
            note = "on the abnormal list"
        else:
            org.status = "注销" if k % 3 == 0 else "撤销"
            org.status_date = tl.start + timedelta(days=4)
            add_donation(world, org_i, last_day(tl.latest) - timedelta(days=3))
            add_donation(world, org_i, last_day(tl.latest) - timedelta(days=1))
            note = f"{org.status} on {org.status_date}"
        # Nobody else gives to it afterwards: the background picked it before planting.
        world.planted.append(("ORG_INACTIVE_DONATION", org_i, note))
    for org_i in picks[n:]:
        org = world.orgs[org_i]
        org.status, org.status_date = "注销", last_day(tl.latest) - timedelta(days=2)
        world.near_misses.append(
            ("ORG_INACTIVE_DONATION", org_i, "donations only before deregistration")
        )
