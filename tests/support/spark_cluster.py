"""A Spark standalone cluster on loopback, from the pyspark distribution (tests, benches).

One master and ``workers`` workers, each a separate JVM started with the distribution's
``bin/spark-class`` (``org.apache.spark.deploy.master.Master`` / ``...worker.Worker``), on
free ports of 127.0.0.1, with their work and log folders under a temporary folder.

A port found free can be taken by another process (another test's JVM) before the daemon
binds it; Spark then binds the next one. So the helper does not trust the ports it asked
for: it reads the master's URL and web UI port from the master's own log ("Starting Spark
master at ...", "Successfully started service 'MasterUI' on port ..."), starts the
workers against that URL, and calls the cluster ready once the master's ``/json`` says
it is this master (its ``url``), ALIVE, with every worker ALIVE. The master's REST
submission server (a fixed port, 6066, that a second cluster would have to move off) is
off: nothing here submits through it. At exit (also on failure) each daemon's process
group is ended, so the executors a worker launched go with it and no JVM outlives the
test.

:class:`PeakRss` samples the peak resident memory of a test's child processes (the
``civlake`` process and its Spark driver JVM), read from ``/proc/<pid>/status``
(``VmHWM``, the kernel's own high-water mark, so sampling only has to see a process once
before it exits).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from civlake.osutil import free_port

HOST = "127.0.0.1"
MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"


def spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


@dataclass
class SparkCluster:
    master_url: str  # spark://127.0.0.1:<port>
    web_url: str  # the master's web UI: /json lists workers and applications
    root: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as reply:
            return json.load(reply)

    def logs_tail(self, lines: int = 20) -> str:
        out = []
        for log in sorted(self.root.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)


# The JVMs of a test cluster live for one stage task each (each @task.pyspark task is
# its own application, with its own driver and executors, ~20 s): C2's compilations do
# not pay back in that time. C1 only and the serial GC made a 12-job local Delta session
# take 60 s instead of 100 s on this 2-core machine. Test tuning only; results are the
# same (JIT level and GC do not change what a job computes).
SHORT_LIVED_JVM = {"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}


def _daemon_env(root: Path, short_lived: bool = True) -> dict[str, str]:
    conf = root / "conf"  # an empty conf dir: no spark-defaults.conf from elsewhere
    conf.mkdir(exist_ok=True)
    return {
        **os.environ,
        "SPARK_LOCAL_IP": HOST,
        "SPARK_CONF_DIR": str(conf),
        "SPARK_LOG_DIR": str(root / "logs"),
        # The daemons only schedule; executors get their own JVMs and memory.
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "SPARK_NO_DAEMONIZE": "1",
        # the daemons and the executors they launch
        **(SHORT_LIVED_JVM if short_lived else {}),
    }


def _start(root: Path, name: str, args: list[str], short_lived: bool) -> subprocess.Popen:
    log = open(root / f"{name}.log", "wb")  # noqa: SIM115 (the process writes it)
    try:
        # Its own process group: teardown ends the daemon and the executors it launched.
        return subprocess.Popen(
            [str(spark_class()), *args], env=_daemon_env(root, short_lived), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()


def _stop(process: subprocess.Popen, grace: float = 20) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # whatever of the group is left (an executor that outlived its worker's stop)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=grace)


@contextmanager
def spark_cluster(
    root: Path,
    *,
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    ready_s: float = 180,
    short_lived: bool = True,
) -> Iterator[SparkCluster]:
    """A running standalone cluster of ``workers`` × (``cores``, ``memory``) under ``root``.

    ``short_lived`` gives the daemons and their executors ``SHORT_LIVED_JVM`` (tests, whose
    applications last seconds); a benchmark's one long application wants the full JIT."""
    root.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + ready_s
    processes: list[subprocess.Popen] = []
    with ExitStack() as stack:
        stack.callback(lambda: [_stop(p) for p in reversed(processes)])
        master = [MASTER, "--host", HOST, "--port", str(free_port(HOST)),
                  "--webui-port", str(free_port(HOST))]  # fmt: skip
        processes.append(_start(root, "master", master, short_lived))
        master_url, web_port = _bound_master(root, processes[0], deadline)
        cluster = SparkCluster(master_url=master_url, web_url=f"http://{HOST}:{web_port}",
                               root=root, processes=processes)  # fmt: skip
        for i in range(workers):
            work = root / f"worker-{i}"
            work.mkdir(exist_ok=True)
            args = [WORKER, "--host", HOST, "--port", str(free_port(HOST)),
                    "--webui-port", str(free_port(HOST)), "--cores", str(cores),
                    "--memory", memory, "--work-dir", str(work), cluster.master_url]  # fmt: skip
            processes.append(_start(root, f"worker-{i}", args, short_lived))
        _wait_ready(cluster, workers, deadline)
        yield cluster


_MASTER_AT = re.compile(r"Starting Spark master at (spark://\S+)")
_WEB_UI_AT = re.compile(r"Successfully started service 'MasterUI' on port (\d+)")


def _bound_master(root: Path, master: subprocess.Popen, deadline: float) -> tuple[str, int]:
    """The URL and web UI port the master bound, as its log gives them."""
    log = root / "master.log"
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        url, web = _MASTER_AT.search(text), _WEB_UI_AT.search(text)
        if url and web:
            return url.group(1), int(web.group(1))
        if master.poll() is not None:
            raise RuntimeError(f"the Spark master exited ({master.returncode})\n{text[-4000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"the Spark master did not start in time\n{log.read_text()[-4000:]}")


def _wait_ready(cluster: SparkCluster, workers: int, deadline: float) -> None:
    alive, state = 0, {}
    while time.monotonic() < deadline:
        dead = [p.args[1] for p in cluster.processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"Spark daemon(s) exited: {dead}\n{cluster.logs_tail()}")
        try:
            state = cluster.state()
        except OSError:  # the master's web UI is not up yet
            state = {}
        if state and state.get("url") != cluster.master_url:
            raise RuntimeError(f"{cluster.web_url} answers for {state.get('url')}, not "
                               f"{cluster.master_url}\n{cluster.logs_tail()}")  # fmt: skip
        alive = sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")
        if state.get("status") == "ALIVE" and alive == workers:
            return
        time.sleep(1)
    raise RuntimeError(
        f"the Spark cluster at {cluster.master_url} was {state.get('status', 'not answering')} "
        f"with {alive} of {workers} workers ALIVE in time\n{cluster.logs_tail()}"
    )


class PeakRss:
    """Peak RSS (MiB) of this process's descendants, by kind, sampled in a thread."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.peaks: dict[int, tuple[str, int]] = {}  # pid -> (what, VmHWM kB)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        me = os.getpid()
        while not self._done.wait(self.interval):
            parents = _parents()
            for pid in parents:
                if _descends(pid, me, parents):
                    self._sample(pid)

    def _sample(self, pid: int) -> None:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        hwm = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:")), 0)
        what = _kind(cmd)
        if what and hwm > self.peaks.get(pid, ("", 0))[1]:
            self.peaks[pid] = (what, hwm)

    def peak_mib(self, what: str) -> float:
        """The largest peak among processes of one kind (``driver-jvm``, ``civlake``, ...)."""
        return max((kb for w, kb in self.peaks.values() if w == what), default=0) / 1024


def _kind(cmd: list[bytes]) -> str | None:
    text = b" ".join(cmd)
    if b"org.apache.spark.deploy.SparkSubmit" in text:
        return "driver-jvm"
    if b"CoarseGrainedExecutorBackend" in text:
        return "executor-jvm"
    if cmd and cmd[0].endswith(b"python") and len(cmd) > 1 and cmd[1].endswith(b"/civlake"):
        return "civlake"
    return None


def _parents() -> dict[int, int]:
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    for _ in range(64):
        pid = parents.get(pid, 0)
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False
