"""``civlake agency ...`` in another process, as an administrator changes the register
while a server runs."""

from __future__ import annotations

import os
import subprocess
import sys

from civlake.settings import Settings


def agency_cli(settings: Settings, *argv: str) -> str:
    """Run the command for ``settings``' home; its output (asserting it succeeded)."""
    done = subprocess.run(
        [sys.executable, "-m", "civlake.cli", "agency", *argv],
        env={**os.environ, "CIVLAKE_HOME": str(settings.home)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
