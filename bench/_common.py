"""Shared benchmark helpers: peak memory and timing that print, never assert."""

from __future__ import annotations

import resource
import threading
import time
from contextlib import contextmanager
from pathlib import Path


def rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tree(pid: int | None = None) -> list[int]:
    """This process (or ``pid``) and all its descendants (but multiprocessing's resource
    tracker)."""
    import os

    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p == root or not _is_resource_tracker(p):
            out.append(p)
        todo.extend(children.get(p, []))
    return out


def _is_resource_tracker(pid: int) -> bool:
    """multiprocessing's resource tracker: a helper process the first process pool starts,
    which lives as long as its parent; no stage's worker."""
    try:
        return b"multiprocessing.resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(pid: int | None = None) -> float:
    """RSS of this process and all its descendants (the Spark engine's JVM is a child)."""
    return sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in _tree(pid)) / 1024


def pss_mib(pids: list[int]) -> float:
    """PSS of these processes. A forked worker shares its parent's pages until it writes
    them: RSS would count those twice, PSS divides each shared page among the processes
    that map it. Not free: the kernel walks each process's page tables (about 10 ms per
    GiB mapped, measured), so ``measure`` reads it seldom."""
    return sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) / 1024


@contextmanager
def measure(result: dict, *, tree: bool = False, workers: bool = False):
    """Wall time and peak RSS growth (sampled every 20 ms) of the block. ``workers``: also
    the peak PSS of the process tree while the block had child processes, as
    ``result["tree_peak_pss_mib"]``: sampled every 500 ms, and only while there are
    children. Sampled every 200 ms whatever the tree (until session 41), its page-table
    walks took a sixth of a core beside a 3-4 GiB resolve stage, slowing what it measured."""
    read = tree_rss_mib if tree else rss_mib
    base = read()
    peak = [base]
    stop = threading.Event()
    tree_peak = [0.0]

    def sample():
        n = 0
        while not stop.wait(0.2 if tree else 0.02):
            peak[0] = max(peak[0], read())
            n += 1
            if workers and n % 25 == 0:
                pids = _tree()
                if len(pids) > 1:
                    tree_peak[0] = max(tree_peak[0], pss_mib(pids))

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - started
        stop.set()
        t.join()
        result["peak_rss_mib"] = max(peak[0], read())
        result["rss_growth_mib"] = result["peak_rss_mib"] - base
        if tree_peak[0]:
            result["tree_peak_pss_mib"] = tree_peak[0]


def start_watchdog(limit_mib: float, *, every: float = 0.5) -> None:
    """Stop this process (exit 3, with a line saying why) when its RSS passes
    ``limit_mib``: a city too large for the machine ends as a figure, not an OOM kill
    of whatever else is running."""
    import os
    import sys

    def watch():
        peak = 0.0
        while True:
            time.sleep(every)
            rss = rss_mib()
            peak = max(peak, rss)
            if rss > limit_mib:
                print(f"watchdog: RSS {rss:,.0f} MiB > {limit_mib:,.0f} MiB; stopped",
                      file=sys.stderr, flush=True)  # fmt: skip
                print(f"STOPPED by the watchdog at {rss:,.0f} MiB", flush=True)
                os._exit(3)

    threading.Thread(target=watch, daemon=True, name="watchdog").start()
