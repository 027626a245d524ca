from __future__ import annotations

import pytest

from civlake.resolve.linkage import LinkageConfig
from civlake.settings import load_settings

THRESHOLD_ENV = "CIVLAKE_RESOLVE_THRESHOLD"


def test_threshold_from_environment():
    assert LinkageConfig.from_settings(load_settings(env={})).threshold == 0.95
    assert LinkageConfig.from_settings(load_settings(env={THRESHOLD_ENV: "0.99"})).threshold == 0.99


@pytest.mark.parametrize("raw", ["high", "1.5", "0.1"])
def test_bad_threshold_names_the_variable_and_a_good_value(raw):
    with pytest.raises(ValueError, match=THRESHOLD_ENV) as info:
        load_settings(env={THRESHOLD_ENV: raw})
    assert "0.95" in str(info.value)
