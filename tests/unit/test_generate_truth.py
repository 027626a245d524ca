"""The oracle's findings are exactly the planted cases: the background triggers no rule,
and every planted case (and no near miss) is found."""

from __future__ import annotations

import pytest

from civlake.generate.build import build_world
from civlake.generate.oracle import compute_findings
from civlake.transform.rules import rule_codes

# Every rule of the registry (dbt/seeds/verify_rules.csv).
RULES = set(rule_codes())


def _keys(world, findings):
    by_id = {str(v): i for i, v in enumerate(world.pop.id_number)}
    by_org = {o.uscc: i for i, o in enumerate(world.orgs)}
    return {
        (f["rule_code"], by_id[f["id_number"]] if f["id_number"] else by_org[f["org_uscc"]])
        for f in findings
    }


@pytest.mark.parametrize(
    ("persons", "months", "seed"), [(400, 3, 1), (800, 2, 2), (300, 1, 3), (600, 4, 42)]
)
def test_findings_are_exactly_the_planted_cases(persons, months, seed):
    # GIVEN a generated world
    world = build_world(persons, months, seed)
    # WHEN the reference rules run on it
    found = _keys(world, compute_findings(world))
    planted = {(rule, idx) for rule, idx, _ in world.planted}
    # THEN nothing but the planted cases is found, and all of them are
    assert found == planted
    near = {(rule, idx) for rule, idx, _ in world.near_misses}
    assert not (near & found)


def test_every_rule_is_planted_with_several_months():
    world = build_world(1000, 3, 5)
    rules = {rule for rule, _, _ in world.planted}
    assert rules == RULES
    near = {rule for rule, _, _ in world.near_misses}
    assert {"DEATH_PAID", "GL_UNCLAIMED", "PAY_NO_BASIS", "MARRIED_TWICE", "ID_MISMATCH"} <= near


def test_amounts_follow_the_policy_table():
    world = build_world(500, 3, 9)
    findings = compute_findings(world)
    for f in findings:
        if f["rule_code"] == "GL_UNCLAIMED":
            assert f["amount_at_risk"] in (100, 300, 600)
        if f["rule_code"] == "CJHL_UNCLAIMED":
            assert f["amount_at_risk"] in (200, 300)
        if f["rule_code"] == "CJSH_UNCLAIMED":
            assert f["amount_at_risk"] == 200
        if f["rule_code"] in ("ID_MISMATCH",):
            assert f["amount_at_risk"] is None and f["attribute"] in ("name", "sex", "birth_date")
    assert len({f["rule_code"] for f in findings}) == len(RULES)
