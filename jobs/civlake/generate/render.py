"""All deliveries of the city, in a fixed order (the order only matters for determinism)."""

from __future__ import annotations

from civlake.generate import render_events as ev
from civlake.generate import render_registers as rg
from civlake.generate.delivery import Delivery
from civlake.generate.world import World


def render_all(world: World) -> list[Delivery]:
    return [
        ev.divisions_delivery(world),
        *rg.hukou_deliveries(world),
        *rg.assistance_deliveries(world),
        *rg.payment_deliveries(world),
        *rg.elderly_deliveries(world),
        *rg.disability_deliveries(world),
        *ev.death_deliveries(world),
        *ev.cremation_deliveries(world),
        *ev.marriage_deliveries(world),
        *ev.org_deliveries(world),
        *ev.donation_deliveries(world),
        *ev.volunteer_deliveries(world),
        *rg.child_deliveries(world),
    ]
