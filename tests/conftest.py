from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civlake.settings import load_settings

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path):
    """Settings rooted in a temporary project data folder (no environment leaks in)."""
    return load_settings(env={"CIVLAKE_HOME": str(tmp_path / "data")})


@pytest.fixture
def now():
    return NOW
