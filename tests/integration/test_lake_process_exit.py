"""A process whose last act is a lake read exits cleanly.

delta-rs' default Arrow dataset reads through a Python filesystem handler; an Arrow I/O
thread freeing one of its Python buffers after the interpreter began to exit aborted the
process ("terminate called without an active exception", exit code 134) in most such
runs on this machine, an Airflow task that had committed its work among them. The lake
reads local tables through Arrow's own filesystem (``lake.local_files``)."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from civlake import lake

pytestmark = pytest.mark.integration

READ_LAST = """
import sys
from pathlib import Path
from civlake import lake
path = Path(sys.argv[1])
table = lake.read_arrow(path) if sys.argv[2] == "whole" else lake.read_arrow(path, filter_sql="n >= 0")
print(table.num_rows)
"""


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "lake" / "silver" / "t"
    for part in range(3):
        lake.append(path, pa.table({"n": pa.array(range(part * 500, part * 500 + 500), pa.int64()),
                                    "s": [f"v{i}" for i in range(500)]}))  # fmt: skip
    return path


@pytest.mark.parametrize("how", ["whole", "filtered"])
def test_a_process_ending_with_a_lake_read_exits_with_zero(table, how):
    # WHEN short processes read the table and exit at once (the old read aborted ~9 in 10)
    command = [sys.executable, "-c", READ_LAST, str(table), how]
    runs = [subprocess.run(command, capture_output=True, text=True, timeout=120) for _ in range(4)]
    # THEN each read every row and exited normally
    assert [(r.returncode, r.stdout.strip()) for r in runs] == [(0, "1500")] * 4, [
        r.stderr[-500:] for r in runs
    ]


def test_local_tables_are_read_by_arrows_own_filesystem(table):
    dt = lake.open_table(table)
    assert isinstance(lake.local_files(dt), pafs.SubTreeFileSystem)
    assert not isinstance(lake.arrow_dataset(dt).filesystem, pafs.PyFileSystem)
    assert lake.arrow_table(dt).num_rows == 1500
