"""A generated landing split by production month: what arrives first and what arrives later.

``civlake generate --months N`` writes every month's deliveries into one landing. Tests
and benches of "the next month" move the deliveries produced in the last production
month aside, run the first month, then bring them back. The month is read from the
delivery id (``<YYYYMMDD>-<unit>-<seq>``, SOURCE_FEEDS.md section 1), not the manifest:
the generator plants broken manifests, and they must land in their month too.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def hold_back_last_month(landing: Path, later: Path) -> tuple[int, int]:
    """Move the deliveries produced in the landing's last production month to ``later``;
    returns (deliveries kept, deliveries moved)."""
    deliveries = sorted(p for p in landing.glob("*/*") if p.is_dir())
    last = max(d.name[:6] for d in deliveries)
    moved = 0
    for delivery in deliveries:
        if delivery.name[:6] == last:
            target = later / delivery.parent.name / delivery.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(delivery), target)
            moved += 1
    return len(deliveries) - moved, moved


def bring_back(later: Path, landing: Path) -> None:
    for delivery in sorted(later.glob("*/*")):
        target = landing / delivery.parent.name / delivery.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(delivery), target)
