"""The fixed calendar: K monthly periods ending 2026-10, produced early the next month."""

from __future__ import annotations

from datetime import date

import pytest

from civlake.generate.timeline import Timeline, daily_produced, delivery_id, monthly_produced


def test_months_end_at_the_latest_complete_month():
    assert Timeline.ending_latest(3).months == ("2026-08", "2026-09", "2026-10")
    assert Timeline.ending_latest(12).months[0] == "2025-11"
    with pytest.raises(ValueError, match="at least 1"):
        Timeline.ending_latest(0)


def test_produced_at_is_early_next_month_with_offset():
    on, at = monthly_produced("2026-10")
    assert on == date(2026, 11, 1) and at == "2026-11-01T02:00:00+08:00"
    assert delivery_id(on, "440106", 1) == "20261101-440106-001"
    assert daily_produced(date(2026, 10, 31))[1].startswith("2026-11-01T")


def test_iso_weeks_inside_the_window():
    weeks = Timeline.ending_latest(1).weeks()
    assert weeks[0][0] == "2026-W41" and weeks[-1][0] == "2026-W44"
    assert all(monday.weekday() == 0 for _, monday, _ in weeks)
