"""The background city: registers, deaths and payments that trigger no verification rule.

Rates are per person of the generated city (roughly Guangzhou's: ~1% 低保/特困/边缘
households, ~2.5% certified disabled, 3% aged 80+); small test cities get floors so
each register has rows.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from civlake.generate.names import draw_names
from civlake.generate.policy import age_on, entitlements, gl_first_month, gl_tier
from civlake.generate.timeline import first_day, last_day
from civlake.generate.world import (
    Cert,
    ChildEntry,
    Death,
    ElderlyEntry,
    Household,
    PayLine,
    World,
)  # fmt: skip

CATEGORIES = ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"]
HANDLERS = ["陈晓东", "李慧", "黄志强", "王敏", "刘洋"]


def _age_mask(world: World, lo: int, hi: int) -> np.ndarray:
    age = world.age0()
    return (age >= lo) & (age <= hi)


def _eligible(world: World) -> np.ndarray:
    p = world.pop
    return p.in_hukou & (p.status == "正常")


def build_households(world: World) -> None:
    p, rng, months = world.pop, world.rng, world.tl.months
    n_hh = max(12, len(p) // 100)
    age = world.age0()
    base = _eligible(world) & ~world.used
    heads = world.take(base & (age >= 25) & (age <= 85), n_hh)
    # Members come from per-district pools drawn once (one rng.choice per person would be
    # quadratic at a million persons).
    district_all = world.district()
    pools: dict[str, list[int]] = {}
    free = np.flatnonzero(base & ~world.used & (age <= 85))
    free = free[rng.permutation(len(free))]
    for d in np.unique(district_all[free]):
        pools[str(d)] = free[district_all[free] == d].tolist()
    for k, head in enumerate(heads):
        district = p.division[head][:6]
        kind = rng.choice(["低保", "特困", "低保边缘"], p=[0.7, 0.15, 0.15])
        size = 1 if kind == "特困" else int(rng.integers(1, 5))
        pool = pools.get(str(district), [])
        others = [int(pool.pop()) for _ in range(min(size - 1, len(pool)))]
        world.used[others] = True
        rels = ["配偶", "子女", "子女", "父母"]
        members = [(head, "本人")] + [(o, rels[j]) for j, o in enumerate(others)]
        per = {"低保": 1120, "特困": 1456, "低保边缘": 560}[kind]
        amount = int(per * len(members) - rng.integers(0, 20) * 10)
        approved = date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 2000)))
        h = Household(
            family_no=f"{district}{k + 1:06d}", division=str(p.division[head]), kind=str(kind),
            head=head, members=members, amount=amount, approved_on=approved,
            handler=HANDLERS[k % len(HANDLERS)],
        )  # fmt: skip
        u = rng.random()
        for i, m in enumerate(months):
            h.status[m] = "在保"
            if u < 0.06 and len(months) > 1 and i == 0:
                h.status.pop(m)  # approved during the window: absent in the first month
                h.approved_on = first_day(months[1]) + timedelta(days=3)
        if u > 0.95 and len(months) > 2:
            stop = months[-2]
            h.status[stop] = "停保"
            h.status.pop(months[-1])
            h.stopped_on = first_day(stop) + timedelta(days=9)
        world.households.append(h)
        for idx, _ in members:
            world.no_die[idx] = True


def build_certs(world: World) -> None:
    p, rng, months = world.pop, world.rng, world.tl.months
    age = world.age0()
    # Disability is more common with age; members of assistance households are often disabled.
    prob = np.where(age >= 60, 0.05, 0.015)
    member = np.zeros(len(p), bool)
    for h in world.households:
        member[[i for i, _ in h.members]] = True
    prob = np.where(member, 0.2, prob)
    pick = np.flatnonzero(_eligible(world) & (rng.random(len(p)) < prob) & (age >= 3))
    for idx in pick:
        idx = int(idx)
        cat = int(rng.integers(1, 8))
        grade = int(rng.choice([1, 2, 3, 4], p=[0.15, 0.25, 0.3, 0.3]))
        issued = date(2015, 1, 1) + timedelta(days=int(rng.integers(0, 3500)))
        c = Cert(
            idx, f"{p.id_number[idx]}{cat}{grade}", CATEGORIES[cat - 1], grade, issued,
            issued + timedelta(days=365 * 10),
        )  # fmt: skip
        dead = rng.random() < 0.02  # cancelled before the window
        for m in months:
            c.status[m] = "注销" if dead else "有效"
        world.certs.append(c)


def build_children(world: World) -> None:
    p, rng, months = world.pop, world.rng, world.tl.months
    n = max(8, len(p) // 800)
    kids = world.take(_eligible(world) & _age_mask(world, 1, 16), n)
    # Guardians: adults of the child's district, drawn from per-district pools.
    adults = np.flatnonzero(_eligible(world) & _age_mask(world, 30, 70) & ~world.used)
    adults = adults[rng.permutation(len(adults))]
    district = world.district()
    pools = {str(d): adults[district[adults] == d].tolist() for d in np.unique(district[adults])}
    for idx in kids:
        pool = pools.get(str(district[idx]), [])
        if not pool:
            continue
        guardian = int(pool.pop())
        world.used[guardian] = world.no_die[guardian] = True
        cat = str(
            rng.choice(
                ["孤儿", "事实无人抚养儿童", "困境儿童", "留守儿童"], p=[0.3, 0.3, 0.25, 0.15]
            )
        )
        placement = str(rng.choice(["社会散居", "机构养育", "家庭寄养"], p=[0.6, 0.25, 0.15]))
        rel = str(rng.choice(["祖父母", "外祖父母", "叔伯", "姑姨", "兄姐"]))
        recognized = date(2022, 1, 1) + timedelta(days=int(rng.integers(0, 1000)))
        ch = ChildEntry(idx, cat, placement, guardian, rel, str(p.division[idx]), recognized)
        for m in months:
            ch.status[m] = "在册"
        world.children.append(ch)


def build_deaths(world: World) -> None:
    p, rng, tl = world.pop, world.rng, world.tl
    age = p.age_on(np.datetime64(tl.start))
    # Monthly death probability by age, boosted ~3x over Guangzhou's so small cities have deaths.
    prob = np.where(age >= 80, 0.012, np.where(age >= 60, 0.003, 0.0004)) * len(tl.months)
    cand = ~world.no_die & ~world.used & (p.status == "正常") & (rng.random(len(p)) < prob)
    for idx in np.flatnonzero(cand):
        add_death(world, int(idx), tl.months[int(rng.integers(0, len(tl.months)))])


def add_death(world: World, idx: int, month: str, *, day: int | None = None,
              cert: bool | None = None) -> Death:  # fmt: skip
    """A death in month with all its traces (certificate, cremation, hukou 死亡)."""
    rng = world.rng
    d0 = first_day(month) + timedelta(days=(day or int(rng.integers(3, 21))) - 1)
    has_cert = bool(rng.random() < 0.95) if cert is None else cert
    crem = (
        d0 + timedelta(days=int(rng.integers(-1, 2)))
        if rng.random() < 0.9 or not has_cert
        else None
    )
    hk = d0 + timedelta(days=int(rng.integers(1, 6))) if world.pop.in_hukou[idx] else None
    if hk is not None:
        hk = min(hk, last_day(month))
    death = Death(
        idx,
        d0,
        has_cert,
        crem,
        hk,
        str(rng.choice(["hospital", "home", "other"], p=[0.8, 0.15, 0.05])),
    )
    if not has_cert:
        # The true date follows the spec's precedence: cremation, then hukou.
        death.date = crem or hk or d0
    world.deaths[idx] = death
    world.used[idx] = True
    return death


def build_elderly(world: World) -> None:
    """Every person due 高龄津贴 is in the register with the right tier; the month after
    death they show as 终止 (死亡), then leave."""
    from civlake.generate.policy import gl_due

    p = world.pop
    cutoff = np.datetime64(world.tl.end) - np.timedelta64(80 * 365 - 40, "D")
    old = np.flatnonzero(p.birth <= cutoff)
    for m in world.tl.months:
        world.elderly[m] = {}
    for idx in old:
        idx = int(idx)
        start = gl_first_month(p.birth[idx])
        for i, m in enumerate(world.tl.months):
            due = gl_due(world, idx, m)
            if due:
                world.elderly[m][idx] = ElderlyEntry(idx, due[0], due[1], start)
            elif i > 0 and idx in world.elderly[world.tl.months[i - 1]] and idx in world.deaths:
                prev = world.elderly[world.tl.months[i - 1]][idx]
                if prev.status == "正常":
                    world.elderly[m][idx] = ElderlyEntry(
                        idx, prev.tier, prev.standard, start, "终止", "死亡"
                    )


def build_payments(world: World) -> None:
    """Payments exactly as due (GL only to those in the register), plus planted shaping."""
    due = entitlements(world)
    rng = world.rng
    seq = 0
    months = world.tl.months
    for key in sorted(due, key=lambda k: (k[2], k[1], k[0])):
        idx, prog, m = key
        if key in world.pay_suppress:
            continue
        if prog == "GL" and (idx not in world.elderly[m] or world.elderly[m][idx].status != "正常"):
            continue
        seq += 1
        amount = world.pay_amount.get(key, due[key])
        pid = f"{prog}{m.replace('-', '')}{seq:08d}"
        div = str(world.pop.division[idx])
        if m != months[-1] and rng.random() < 0.01:
            # Failed first, resent successfully in the next month's delivery.
            world.payments.append(PayLine(pid, m, prog, idx, amount, "failed", m, div))
            nxt = months[months.index(m) + 1]
            world.payments.append(PayLine(pid, m, prog, idx, amount, "success", nxt, div))
        else:
            world.payments.append(PayLine(pid, m, prog, idx, amount, "success", m, div))
    for idx, prog, m, amount, status in world.extra_pay:
        seq += 1
        pid = f"{prog}{m.replace('-', '')}{seq:08d}"
        world.payments.append(
            PayLine(pid, m, prog, idx, amount, status, m, str(world.pop.division[idx]))
        )
    for idx, prog, m, amount, first, later in world.resent:
        seq += 1
        pid = f"{prog}{m.replace('-', '')}{seq:08d}"
        nxt = months[months.index(m) + 1]
        div = str(world.pop.division[idx])
        world.payments.append(PayLine(pid, m, prog, idx, amount, first, m, div))
        world.payments.append(PayLine(pid, m, prog, idx, amount, later, nxt, div))


def tier_for(world: World, idx: int, month: str) -> tuple[str, int] | None:
    return gl_tier(age_on(world.pop.birth[idx], first_day(month)))


def fresh_names(world: World, sex: str, k: int = 1) -> list[str]:
    return [str(x) for x in draw_names(world.rng, np.array([sex] * k))]
