"""A feed's chunks validated side by side, one forked process per core.

GX validates in Python, so one process validates on one core: on the 1 M city the
gate was the one stage that left the second core idle (21 CPU-s in 19 s). The chunks of
a feed (chunks.py) are independent by construction, so each can be validated in its own
process and the parts combined as before (combine.py), in chunk order.

The processes are forked from the gate's process once the feed's GX suites are built:
they inherit GX (whose import is ~4 s: a spawned process would pay it again), the
session and the suites, and receive only a chunk's Parquet file names; they send back
the chunk's parts (a few numbers and examples). A forked child runs no thread of its
parent, so it touches only what it was given: Parquet files through pyarrow (which
starts its thread pools afresh after a fork), pandas and GX. Where fork does not exist,
for one chunk, or with one worker, the chunks are validated in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Most workers by default: each holds one chunk's frame and GX's copies of it
# (~1 GiB at 250,000 hukou rows, Settings.expectations_batch_rows).
MAX_DEFAULT_WORKERS = 4
_job: Callable[[Any], Any] | None = None  # what the forked workers run (inherited)


def default_workers() -> int:
    """One worker per core this process may use, at most ``MAX_DEFAULT_WORKERS``."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def map_in_forks(job: Callable[[T], R], items: Sequence[T], workers: int) -> Iterator[R]:
    """``job(item)`` for each item, in order, in up to ``workers`` forked processes.

    ``job`` may be any callable (a closure, a bound method): the workers inherit it
    with the rest of this process, so nothing of it is pickled; only the items and the
    results are. An exception raised by a job is raised here, for its item. One item,
    one worker or no fork: the jobs run in this process, one after another."""
    n = min(workers, len(items))
    if n <= 1 or not can_fork():
        yield from map(job, items)
        return
    global _job
    if _job is not None:
        raise RuntimeError("map_in_forks is already running in this process")
    _job = job
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
            yield from pool.map(_run, items)
    finally:
        _job = None


def _run(item: Any) -> Any:
    if _job is None:  # only a worker forked by map_in_forks runs this
        raise RuntimeError("no job: _run runs in a process forked by map_in_forks")
    return _job(item)
