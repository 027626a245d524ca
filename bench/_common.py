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


@contextmanager
def measure(result: dict):
    """Wall time and peak RSS growth (sampled every 20 ms) of the block."""
    base = rss_mib()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.02):
            peak[0] = max(peak[0], rss_mib())

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - started
        stop.set()
        t.join()
        result["peak_rss_mib"] = max(peak[0], rss_mib())
        result["rss_growth_mib"] = result["peak_rss_mib"] - base
