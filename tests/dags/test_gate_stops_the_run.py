"""A failing critical expectation stops the run in Airflow: the build DAG does not start,
the command exits non-zero at once (the failed gate is not retried), and the message names
the expectation."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from civlake import lake
from tests.deliveries import csv_bytes, headers, write_delivery

pytestmark = pytest.mark.dags
CIVLAKE = str(Path(sys.executable).with_name("civlake"))


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIVLAKE_HOME": str(home)}
    return subprocess.run(
        [CIVLAKE, "run", *args], env=env, capture_output=True, text=True, timeout=900
    )


def test_critical_expectation_failure_stops_downstream(settings):
    # GIVEN a tiny city (divisions + one elderly-allowance delivery) cleaned into silver
    divisions = [
        ["440100000000", "广州市", "2", "", "", "2000-01-01", "", ""],
        ["440106000000", "天河区", "3", "440100000000", "", "2000-01-01", "", ""],
    ]
    write_delivery(settings.landing, "divisions", "20260102-440100-001",
                   {"区划.csv": csv_bytes(headers("divisions"), divisions)}, period="2026")  # fmt: skip
    rows = [
        [
            "440106193001011234",
            "张伟",
            "1",
            "1930-01-01",
            "440106",
            "90-99岁",
            "300",
            "2020-01",
            "正常",
            "",
        ]
    ]
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001",
                   {"e.csv": csv_bytes(headers("elderly_allowance"), rows)})  # fmt: skip
    first = _run(settings.home, "--through", "clean")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    silver_path = settings.lake / "silver" / "elderly_allowance"
    silver = lake.read_arrow(silver_path)
    assert silver.num_rows == 1
    # WHEN a row breaking a critical expectation reaches silver (status outside its enum)
    status = silver.schema.get_field_index("status")
    bad = silver.set_column(
        status, "status", pa.array(["已作废"], silver.schema.field("status").type)
    )
    bad = bad.set_column(bad.schema.get_field_index("_source_row"), "_source_row",
                         pc.add(bad["_source_row"], 1))  # fmt: skip
    lake.append(silver_path, bad)
    out = _run(settings.home)
    # THEN the run stops with a message naming the feed and the expectation
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "ingest_elderly_allowance" in text and "expectations" in text
    assert "silver.elderly_allowance.critical" in text and "status" in text
    # and nothing downstream ran: no task of the build DAG was started
    with sqlite3.connect(settings.airflow_home / "airflow.db") as con:
        started = con.execute(
            "select count(*) from task_instance where dag_id = 'civlake_build'"
        ).fetchone()[0]
        tries = con.execute(
            "select try_number from task_instance where dag_id = 'ingest_elderly_allowance'"
            " and task_id = 'expectations' and state = 'failed'"
        ).fetchall()
    assert started == 0
    # and the gate failed once: the same data would break it again, so no retry
    assert tries == [(1,)]
