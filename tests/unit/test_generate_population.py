"""The bulk population: valid unique IDs that agree with sex and birth date, a plausible
age pyramid, and ages computed like the policy does (birthday passed or not)."""

from __future__ import annotations

import numpy as np

from civlake.generate.divisions import DISTRICTS, build_divisions
from civlake.generate.population import REF_DATE, ages_on, build_population
from civlake.identifiers import is_valid_id


def test_population_ids_agree_with_attributes():
    rng = np.random.default_rng(7)
    tree = build_divisions(rng, 5000)
    pop = build_population(rng, 5000, tree)
    assert len(set(pop.id_number.tolist())) == 5000
    for i in range(0, 5000, 7):
        pid = str(pop.id_number[i])
        assert is_valid_id(pid)
        assert pid[6:14] == str(pop.birth[i]).replace("-", "")
        assert int(pid[16]) % 2 == (1 if pop.sex[i] == "1" else 0)
    ages = pop.age_on(REF_DATE)
    assert 30 <= np.median(ages) <= 45
    assert 0.01 < (ages >= 80).mean() < 0.06
    assert set(np.unique(pop.district)) <= set(DISTRICTS)


def test_ages_count_completed_years():
    births = np.array(["1946-10-31", "1946-11-01", "2000-02-29"], dtype="datetime64[D]")
    assert ages_on(births, np.datetime64("2026-10-31")).tolist() == [80, 79, 26]
    assert ages_on(births[2:], np.datetime64("2001-02-28")).tolist() == [0]
