"""The package keeps its layers (README, "Architecture in a page"): import-linter's
contract in pyproject.toml, checked on this checkout's code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_no_package_imports_a_layer_above_its_own() -> None:
    # PYTHONPATH first: the code of this checkout, whatever the venv's editable install
    # points at (a second worktree shares the venv).
    env = {**os.environ, "PYTHONPATH": str(REPO / "jobs")}
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "civlake layers KEPT" in done.stdout
