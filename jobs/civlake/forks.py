"""Independent jobs of one stage run side by side, in processes forked from it.

A stage whose work is Python (GX validating a chunk, xlsxwriter writing a district's
book) runs on one core however many the machine has. ``map_in_forks`` runs such jobs in
processes forked from the stage's own: they inherit everything already imported and
built (GX's import alone is ~4 s, which a spawned process would pay again), so a job can
be any callable, a closure included, and only its items and results cross a pipe. A
forked child runs no thread of its parent, so a job should touch only what it was given
and plain Python, Parquet files through pyarrow (which starts its thread pools afresh
after a fork), pandas or GX: no DuckDB connection, Spark session or Delta table of the
parent. Where fork does not exist, for one item, or with one worker, the jobs run in
the calling process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Most workers by default: a worker holds its job's data (the expectations gate's: one
# chunk's frame and GX's copies of it, ~1 GiB at 250,000 hukou rows).
MAX_DEFAULT_WORKERS = 4
_job: Callable[[Any], Any] | None = None  # what the forked workers run (inherited)


def default_workers() -> int:
    """One worker per core this process may use, at most ``MAX_DEFAULT_WORKERS``."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))


def can_fork() -> bool:
    """Fork exists here, and this process may have children: multiprocessing refuses
    them to a daemonic process (an executor's worker can be one, and so is a task it
    forked), whose jobs then run in it."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


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
    # The parent's objects move to the collector's permanent generation while workers
    # are forked: a child's collections then skip them, instead of walking (and so
    # copying, page by page) the whole inherited heap.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
            yield from pool.map(_run, items)
    except BrokenProcessPool as exc:
        raise RuntimeError(
            f"a worker process ended abruptly ({exc}): killed, probably for memory; "
            f"run with fewer workers than {n}, or smaller jobs"
        ) from exc
    finally:
        gc.unfreeze()
        _job = None


def _run(item: Any) -> Any:
    if _job is None:  # only a worker forked by map_in_forks runs this
        raise RuntimeError("no job: _run runs in a process forked by map_in_forks")
    return _job(item)
