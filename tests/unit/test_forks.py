"""Jobs run side by side in forked processes; results come back in order."""

from __future__ import annotations

import os

import pytest

from civlake.forks import can_fork, default_workers, map_in_forks

pytestmark = pytest.mark.skipif(not can_fork(), reason="fork is a POSIX start method")


def test_jobs_run_in_forked_processes_and_results_keep_the_items_order():
    # GIVEN a job that is a closure over this process's state (never pickled)
    seen_here = {"parent": os.getpid()}

    def job(item: int) -> tuple[int, int, int]:
        return item * item, os.getpid(), seen_here["parent"]

    # WHEN eight items go to two workers
    out = list(map_in_forks(job, list(range(8)), workers=2))

    # THEN each result is its item's, in order, from a child that inherited the closure
    assert [r[0] for r in out] == [i * i for i in range(8)]
    pids = {r[1] for r in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {r[2] for r in out} == {os.getpid()}


def test_one_worker_or_one_item_runs_here():
    assert list(map_in_forks(lambda i: os.getpid(), [1, 2], workers=1)) == [os.getpid()] * 2
    assert list(map_in_forks(lambda i: os.getpid(), [1], workers=4)) == [os.getpid()]


def test_a_failing_job_raises_here_with_its_message():
    def job(item: int) -> int:
        if item == 3:
            raise ValueError(f"chunk {item} unreadable")
        return item

    with pytest.raises(ValueError, match="chunk 3 unreadable"):
        list(map_in_forks(job, list(range(6)), workers=2))
    # and the next call starts afresh
    assert list(map_in_forks(lambda i: i + 1, [1, 2, 3], workers=2)) == [2, 3, 4]


def test_default_workers_follow_the_cores_this_process_may_use():
    assert 1 <= default_workers() <= min(len(os.sched_getaffinity(0)), 4)


def test_a_worker_that_dies_is_reported_for_people():
    def job(item: int) -> int:
        if item == 2:
            os._exit(9)  # as a worker killed for memory ends
        return item

    with pytest.raises(RuntimeError, match=r"worker process ended abruptly.*fewer workers"):
        list(map_in_forks(job, list(range(4)), workers=2))


def test_a_daemonic_process_runs_the_jobs_itself(monkeypatch):
    # GIVEN this process marked daemonic (as an executor's worker process is)
    import multiprocessing

    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True, raising=False)
    # WHEN jobs are mapped THEN they run here (multiprocessing refuses it children)
    assert list(map_in_forks(lambda i: os.getpid(), [1, 2, 3], workers=2)) == [os.getpid()] * 3
