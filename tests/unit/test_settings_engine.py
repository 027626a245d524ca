"""An engine name is checked once, where settings are made, whoever gave it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from civlake.settings import load_settings


def test_unknown_engine_from_the_environment_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown engine 'sparky'.*CIVLAKE_ENGINE"):
        load_settings(env={"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_ENGINE": "sparky"})
    assert load_settings(env={"CIVLAKE_HOME": str(tmp_path)}).engine == "duckdb"
    spark = load_settings(env={"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_ENGINE": "spark"})
    assert spark.engine == "spark"


def test_the_command_line_says_so_without_a_traceback(tmp_path):
    civlake = str(Path(sys.executable).with_name("civlake"))
    env = {"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_ENGINE": "Spark ", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([civlake, "run", "--through", "ingest"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown engine" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
