"""A stage on a Spark cluster that cannot get an executor stops with an error, not a hang.

Each ``@task.pyspark`` task is its own application on the cluster; one that asks for more
than the workers have (here: a cluster with no worker at all) would wait for ever, Spark
only logging "Initial job has not accepted any resources". ``engine.runtime.build`` checks for an
executor first (``civlake.engine.spark.await_executors``). The session runs in a child
process: a test process may already hold the local session, and a JVM holds one context.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.spark_cluster import spark_cluster

pytestmark = [pytest.mark.integration, pytest.mark.spark]

STAGE = """
import sys
from datetime import UTC, datetime
from civlake import pipeline
from civlake.engine.spark import SparkSetupError
from civlake.settings import load_settings

settings = load_settings(env={
    "CIVLAKE_HOME": sys.argv[1], "CIVLAKE_SPARK_MASTER": sys.argv[2],
    "CIVLAKE_SPARK_DRIVER_MEMORY": "512m", "CIVLAKE_SPARK_EXECUTOR_MEMORY": "512m",
    "CIVLAKE_SPARK_EXECUTOR_TIMEOUT": "5",
}, engine="spark")
try:
    pipeline.ingest(settings, "divisions", now=datetime.now(UTC))
except SparkSetupError as exc:
    print("REFUSED:", exc)
    sys.exit(3)
"""


def test_a_stage_that_gets_no_executor_stops_with_a_clear_error(tmp_path):
    # GIVEN a standalone master with no worker: no executor can ever start
    with spark_cluster(tmp_path / "cluster", workers=0) as cluster:
        # WHEN a stage runs on it
        done = subprocess.run(
            [sys.executable, "-c", STAGE, str(tmp_path / "home"), cluster.master_url],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        state = cluster.state()
    # THEN it stops within the timeout, naming the master, the wait and what to set
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr[-4000:]
    message = done.stdout.split("REFUSED:", 1)[1]
    assert cluster.master_url in message and "within 5 s" in message
    assert "spark.executor.memory=512m" in message and "CIVLAKE_SPARK_CORES_MAX" in message
    # AND its application was ended, not left holding the cluster
    assert state["activeapps"] == [], state["activeapps"]
    assert [app["state"] for app in state["completedapps"]] == ["FINISHED"], state
    assert not (tmp_path / "home" / "lake").exists()  # nothing was ingested


def test_the_cluster_comes_up_on_other_ports_when_its_ports_are_taken(tmp_path, monkeypatch):
    # GIVEN the two ports the helper picks for the master are taken by another server
    # between being found free and being bound (what another test's JVM can do)
    import http.server

    from tests.support import spark_cluster as helper

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # the helper's polls would fill the test log
            pass

    servers = [http.server.HTTPServer((helper.HOST, 0), Quiet) for _ in range(2)]
    taken = [server.server_address[1] for server in servers]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    picks = iter(taken)
    real_free_port = helper.free_port
    monkeypatch.setattr(helper, "free_port", lambda host: next(picks, None) or real_free_port(host))
    try:
        # WHEN a cluster with a worker starts
        with spark_cluster(tmp_path / "cluster", workers=1) as cluster:
            state = cluster.state()
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    # THEN the master moved off both taken ports, the helper found where it went, and the
    # worker registered with it, not with the other server
    master_port, web_port = (
        int(cluster.master_url.rsplit(":", 1)[1]),
        int(cluster.web_url.rsplit(":", 1)[1]),
    )
    assert master_port not in taken and web_port not in taken
    assert state["url"] == cluster.master_url and state["status"] == "ALIVE"
    assert [w["state"] for w in state["workers"]] == ["ALIVE"]


CHECKPOINT = """
import os, sys
from pyspark.sql import SparkSession
from civlake.resolve.splink_backend import _checkpoint_dir

spark = SparkSession.builder.master(sys.argv[1]).config("spark.ui.enabled", "false").getOrCreate()
folder = _checkpoint_dir(spark).removeprefix("file:")
assert os.path.isdir(folder), folder
assert _checkpoint_dir(spark).removeprefix("file:") == folder  # made once per session
print("MADE", folder)
spark.stop()
"""


def test_splinks_checkpoint_folder_is_removed_when_the_process_ends(tmp_path):
    # GIVEN a cluster master (not local: Splink cuts lineage with parquet checkpoints) and
    # a session without spark.checkpoint.dir
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with spark_cluster(tmp_path / "cluster", workers=0) as cluster:
        # WHEN a process asks for the checkpoint folder, then ends
        done = subprocess.run(
            [sys.executable, "-c", CHECKPOINT, cluster.master_url], capture_output=True,
            text=True, timeout=600, env={**os.environ, "TMPDIR": str(scratch)},
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    # THEN the folder was made in the temporary folder, and is gone with the process
    made = Path(done.stdout.split("MADE ", 1)[1].split()[0])
    assert made.is_relative_to(scratch) and made.parent.name.startswith("civlake-splink-")
    assert list(scratch.iterdir()) == []
