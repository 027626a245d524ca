"""Build the canonical world: background city, then planted cases, then payments."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from civlake.generate import background as bg
from civlake.generate import civic
from civlake.generate import planted_benefits as pb
from civlake.generate import planted_civic as pc
from civlake.generate import planted_payments as pp
from civlake.generate.divisions import build_divisions
from civlake.generate.population import add_namesakes, build_population
from civlake.generate.timeline import Timeline, month_of
from civlake.generate.world import World


def planted_count(persons: int) -> int:
    """Several cases per rule, growing with the city (3 at 1,000 persons, 500 cap)."""
    return int(np.clip(persons // 1000, 2, 500) + (1 if persons >= 1000 else 0))


def build_world(persons: int, months: int, seed: int,
                progress: Callable[[str, int], None] | None = None) -> World:  # fmt: skip
    say = progress or (lambda _stage, _n: None)
    rng = np.random.default_rng(seed)
    tl = Timeline.ending_latest(months)
    tree = build_divisions(rng, persons)
    pop = build_population(rng, persons, tree)
    say("population", persons)
    # Namesakes draw from their own stream, so the rest of the city is drawn as before.
    pairs = add_namesakes(pop, np.random.default_rng([seed, 104729]))
    world = World(tl, tree, pop, rng, np.zeros(persons, bool), np.zeros(persons, bool))
    bg.build_households(world)
    bg.build_certs(world)
    bg.build_children(world)
    civic.build_marriages(world)
    civic.build_orgs(world)
    civic.build_donations(world)
    civic.build_volunteers(world)
    _hukou_changes(world)
    bg.build_deaths(world)
    bg.build_elderly(world)
    _close_certs_of_dead(world)
    say("registers", len(world.households))
    n = planted_count(persons)
    pb.plant_death_paid(world, n)
    pb.plant_dup_assist(world, n)
    pb.plant_gl(world, n)
    pp.plant_disability(world, n)
    pp.plant_payments(world, n)
    pp.plant_not_in_hukou(world, n)
    pc.plant_id_mismatch(world, n)
    pc.plant_marriages(world, n)
    pc.plant_guardians(world, n)
    pc.plant_orgs(world, n)
    _reroute_late_donations(world)
    _noise(world, n)
    bg.build_payments(world)
    # A planted case may have re-dated (and so re-IDed) one of a pair: keep the intact ones.
    ids = pop.id_number.astype("U18")
    a, b = pairs[:, 0], pairs[:, 1]
    intact = (pop.name[a] == pop.name[b]) & (ids[a].astype("U14") == ids[b].astype("U14"))
    world.namesakes = pairs[intact]
    say("payments", len(world.payments))
    return world


def _hukou_changes(world: World) -> None:
    """A few young people without registers move out (迁出) inside the window."""
    p, rng = world.pop, world.rng
    age = world.age0()
    k = max(2, len(p) // 2000)
    for idx in world.take(p.in_hukou & (p.status == "正常") & (age >= 20) & (age <= 40), k):
        day = world.tl.days()[int(rng.integers(0, len(world.tl.days())))]
        world.hukou_changes[idx] = ("迁出", day)


def _close_certs_of_dead(world: World) -> None:
    for c in world.certs:
        d = world.deaths.get(c.idx)
        if d is not None:
            dm = month_of(d.date)
            for m in world.tl.months:
                if m > dm:
                    c.status[m] = "注销"


def _reroute_late_donations(world: World) -> None:
    """Keep "at that time" unambiguous: no background donation to a planted org before its
    deregistration (no weekly snapshot shows it active then), none to a near-miss org after."""
    near = {idx for rule, idx, _ in world.near_misses if rule == "ORG_INACTIVE_DONATION"}
    planted = {idx for rule, idx, _ in world.planted if rule == "ORG_INACTIVE_DONATION"}
    targets = civic.active_charities(world)
    for d in world.donations:
        org = world.orgs[d.org]
        if org.status_date is None:
            continue
        day = d.at[:10]
        late = d.org in near and day >= org.status_date.isoformat()
        early = d.org in planted and day < org.status_date.isoformat()
        if late or early:
            d.org = targets[0]


def _noise(world: World, n: int) -> None:
    """Persons outside the hukou with no other footprint: carriers of quarantine-level dirt."""
    p = world.pop
    age = world.age0()
    mask = ~p.in_hukou & (age >= 18) & (age <= 70) & ~world.no_die
    world.noise = world.take(mask, min(4 * n, int((mask & ~world.used).sum())))
