"""The pool of started sandboxes, with sandboxes that are plain objects (no engine)."""

import itertools
import threading
import time

import pytest

from grader_service.runners import warm_pool
from grader_service.runners.warm_pool import WarmPool


class Sandboxes:
    """start/usable/discard for the pool; records what happened to each sandbox."""

    def __init__(self, fail_first=0):
        self.numbers = itertools.count(1)
        self.started, self.discarded, self.dead = [], [], set()
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def start(self):
        with self.lock:
            if self.fail_first:
                self.fail_first -= 1
                raise RuntimeError("the engine is restarting")
            sandbox = next(self.numbers)
            self.started.append(sandbox)
            return sandbox

    def usable(self, sandbox):
        return sandbox not in self.dead

    def discard(self, sandbox):
        self.discarded.append(sandbox)

    def pool(self, size):
        return WarmPool(self.start, self.usable, self.discard, size)


def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_pool_fills_to_its_size_and_replaces_what_a_job_takes():
    sandboxes = Sandboxes()
    pool = sandboxes.pool(2)
    pool.open()
    until(lambda: pool.ready() == 2)
    time.sleep(0.1)
    assert sandboxes.started == [1, 2]  # no more than the size
    assert pool.take() == 1
    until(lambda: pool.ready() == 2)
    assert sandboxes.started == [1, 2, 3]
    assert (pool.take(), pool.take()) == (2, 3)  # oldest first, each handed out once
    pool.close()
    # what no job took is removed; what a job took is the job's (its runner removes it)
    assert set(sandboxes.discarded) == set(sandboxes.started) - {1, 2, 3}


def test_an_empty_pool_says_so_and_counts_the_miss():
    pool = Sandboxes().pool(0)
    pool.open()  # size 0: nothing starts
    assert pool.take() is None
    assert (pool.taken, pool.missed) == (0, 1)


def test_a_sandbox_that_died_while_waiting_is_discarded_never_handed_out():
    sandboxes = Sandboxes()
    pool = sandboxes.pool(2)
    pool.open()
    until(lambda: pool.ready() == 2)
    sandboxes.dead.add(1)
    assert pool.take() == 2
    assert sandboxes.discarded == [1]
    pool.close()


def test_a_failed_start_is_retried(monkeypatch):
    monkeypatch.setattr(warm_pool, "RETRY_SECONDS", 0.05)
    sandboxes = Sandboxes(fail_first=2)
    pool = sandboxes.pool(1)
    pool.open()
    until(lambda: pool.ready() == 1)
    assert pool.take() == 1
    pool.close()


def test_close_removes_the_waiting_sandboxes_and_stops_refilling():
    sandboxes = Sandboxes()
    pool = sandboxes.pool(3)
    pool.open()
    until(lambda: pool.ready() == 3)
    pool.close()
    assert sorted(sandboxes.discarded) == [1, 2, 3]
    assert pool.take() is None
    time.sleep(0.1)
    assert len(sandboxes.started) == 3


def test_a_sandbox_started_while_closing_is_removed_too():
    sandboxes = Sandboxes()
    release = threading.Event()
    slow_start = sandboxes.start

    def start():
        release.wait(5)
        return slow_start()

    pool = WarmPool(start, sandboxes.usable, sandboxes.discard, 1)
    pool.open()
    closing = threading.Thread(target=pool.close)
    closing.start()
    time.sleep(0.1)
    release.set()
    closing.join(10)
    assert not closing.is_alive()
    assert sandboxes.discarded == sandboxes.started


@pytest.mark.parametrize("size", [1, 4])
def test_concurrent_takes_never_share_a_sandbox(size):
    sandboxes = Sandboxes()
    pool = sandboxes.pool(size)
    pool.open()
    until(lambda: pool.ready() == size)
    got, lock = [], threading.Lock()

    def worker():
        for _ in range(20):
            sandbox = pool.take()
            if sandbox is not None:
                with lock:
                    got.append(sandbox)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.close()
    assert len(got) == len(set(got)) == pool.taken
    assert pool.taken + pool.missed == 80
