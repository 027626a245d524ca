from __future__ import annotations

import pytest

from civlake.resolve.linkage import THRESHOLD_ENV, LinkageConfig


def test_threshold_from_environment():
    assert LinkageConfig.from_env({}).threshold == 0.95
    assert LinkageConfig.from_env({THRESHOLD_ENV: "0.99"}).threshold == 0.99


@pytest.mark.parametrize("raw", ["high", "1.5", "0.1"])
def test_bad_threshold_names_the_variable_and_a_good_value(raw):
    with pytest.raises(ValueError, match=THRESHOLD_ENV) as info:
        LinkageConfig.from_env({THRESHOLD_ENV: raw})
    assert "0.95" in str(info.value)
