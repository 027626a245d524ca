"""The generated city's calendar: reference months, delivery dates and produced_at stamps.

"Now" is fixed (the latest complete month is 2026-10) so output never depends on the
wall clock: reruns are byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

LATEST_MONTH = (2026, 10)
TZ = "+08:00"


def month_str(y: int, m: int) -> str:
    return f"{y:04d}-{m:02d}"


def add_months(month: str, n: int) -> str:
    y, m = int(month[:4]), int(month[5:7])
    k = y * 12 + (m - 1) + n
    return month_str(k // 12, k % 12 + 1)


def month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def last_day(month: str) -> date:
    return first_day(add_months(month, 1)) - timedelta(days=1)


def month_of(d: date) -> str:
    return month_str(d.year, d.month)


@dataclass(frozen=True)
class Timeline:
    months: tuple[str, ...]

    @classmethod
    def ending_latest(cls, k: int) -> Timeline:
        if k < 1:
            raise ValueError(f"months must be at least 1, got {k}")
        last = month_str(*LATEST_MONTH)
        return cls(tuple(add_months(last, i - k + 1) for i in range(k)))

    @property
    def latest(self) -> str:
        return self.months[-1]

    @property
    def start(self) -> date:
        return first_day(self.months[0])

    @property
    def end(self) -> date:
        return last_day(self.latest)

    def days(self) -> list[date]:
        n = (self.end - self.start).days + 1
        return [self.start + timedelta(days=i) for i in range(n)]

    def weeks(self) -> list[tuple[str, date, date]]:
        """ISO weeks (label, monday, sunday) that start inside the window."""
        out = []
        d = self.start + timedelta(days=(7 - self.start.weekday()) % 7)
        while d <= self.end:
            iso = d.isocalendar()
            out.append((f"{iso.year}-W{iso.week:02d}", d, d + timedelta(days=6)))
            d += timedelta(days=7)
        return out


def monthly_produced(month: str, hour: int = 2) -> tuple[date, str]:
    """Monthly deliveries are produced early on the 1st of the following month."""
    d = first_day(add_months(month, 1))
    return d, f"{d.isoformat()}T{hour:02d}:00:00{TZ}"


def daily_produced(day: date, hour: int = 1) -> tuple[date, str]:
    d = day + timedelta(days=1)
    return d, f"{d.isoformat()}T{hour:02d}:30:00{TZ}"


def delivery_id(produced_on: date, unit: str, seq: int) -> str:
    return f"{produced_on:%Y%m%d}-{unit}-{seq:03d}"
