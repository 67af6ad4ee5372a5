"""Threads in a sandbox that has none (docs/runtimes.md#threads): the real
CPython guest, under --no-caps, as a user sees it."""

from __future__ import annotations

import textwrap

import pytest


def run(pylon, code: str):
    return pylon("--no-caps", "-c", textwrap.dedent(code))


def test_common_thread_patterns_give_cpythons_results(pylon):
    result = run(
        pylon,
        """
        import threading, concurrent.futures as cf, time
        out = []
        def work(i):
            out.append((i, threading.current_thread().name))
        ts = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for t in ts: t.start()
        for t in ts: t.join()
        print(out, any(t.is_alive() for t in ts))
        local = threading.local(); local.x = 'main'
        def set_local():
            local.x = 'thread'; out.append(local.x)
        t = threading.Thread(target=set_local); t.start(); t.join()
        print(local.x, out[-1])
        with cf.ThreadPoolExecutor(4) as ex:
            print(list(ex.map(lambda x: x * x, range(5))))
            futures = [ex.submit(pow, 2, i) for i in range(4)]
            print(sorted(f.result() for f in cf.as_completed(futures)))
            print(type(ex.submit(int, 'x').exception()).__name__)
        lock, rlock = threading.Lock(), threading.RLock()
        with lock, rlock, rlock:
            print('held', lock.locked(), lock.acquire(blocking=False))
        c = threading.Condition()
        with c:
            print(c.wait_for(lambda: True))
        s = threading.Semaphore(1); print(s.acquire(), s.acquire(timeout=0.05))
        e = threading.Event(); t0 = time.monotonic()
        print(e.wait(0.2), time.monotonic() - t0 >= 0.2)
        e.set(); print(e.wait())
    """,
    )
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[(0, 'Thread-1 (work)'), (1, 'Thread-2 (work)'), (2, 'Thread-3 (work)')] False",
        "main thread",
        "[0, 1, 4, 9, 16]",
        "[1, 2, 4, 8]",
        "ValueError",
        "held True False",
        "True",
        "True False",
        "False True",
        "True",
    ]


def test_timers_run_when_due_joined_or_at_the_end_and_cancel_stops_them(pylon):
    result = run(
        pylon,
        """
        import threading, time
        fired = []
        t = threading.Timer(0.1, fired.append, args=('joined',)); t.start()
        print(t.is_alive(), fired); t.join(); print(fired)
        c = threading.Timer(30, fired.append, args=('cancelled',)); c.start(); c.cancel(); c.join()
        threading.Timer(0.05, fired.append, args=('slept',)).start(); time.sleep(0.2)
        e = threading.Event(); threading.Timer(0.05, e.set).start(); print(e.wait(), fired)
        threading.Timer(0.05, print, args=('at the end',)).start()
    """,
    )
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "True []",
        "['joined']",
        "True ['joined', 'slept']",
        "at the end",
    ]


def test_a_consumer_started_before_its_producer_fails_at_once(pylon):
    result = run(
        pylon,
        """
        import queue, threading
        q = queue.Queue()
        def consume():
            print('got', q.get())
        threading.Thread(target=consume).start()
        q.put(1)
    """,
    )
    assert result.status == 1
    assert result.stderr.splitlines()[-1] == (
        "RuntimeError: queue.Queue.get() in thread 'Thread-1 (consume)' would wait forever: "
        "the queue is empty; pylon has no threads (a thread runs to completion inside its "
        "start()), so no other thread can end this wait"
    )


@pytest.mark.parametrize(
    ("code", "call", "why"),
    [
        ("threading.Event().wait()", "threading.Event.wait()", "the event is not set"),
        (
            "l = threading.Lock(); l.acquire(); l.acquire()",
            "Lock.acquire()",
            "the lock is held by this same thread",
        ),
        (
            "threading.Semaphore(0).acquire()",
            "threading.Semaphore.acquire()",
            "the semaphore is at 0",
        ),
        ("queue.Queue().get()", "queue.Queue.get()", "the queue is empty"),
    ],
)
def test_waits_no_thread_could_end_raise_one_line(pylon, code, call, why):
    result = run(pylon, f"import queue, threading\n{code}\n")
    assert result.status == 1
    assert result.stderr.splitlines()[-1] == (
        f"RuntimeError: {call} in thread 'MainThread' would wait forever: {why}; pylon has no "
        "threads (a thread runs to completion inside its start()), so no other thread can end "
        "this wait"
    )


def test_a_timed_queue_wait_sleeps_then_raises_empty(pylon):
    result = run(
        pylon,
        """
        import queue, time
        t0 = time.monotonic()
        try:
            queue.Queue().get(timeout=0.2)
        except queue.Empty:
            print('Empty', time.monotonic() - t0 >= 0.2)
    """,
    )
    assert (result.status, result.stdout) == (0, "Empty True\n"), result.stderr
