"""analysis.compute.jobs: the server-wide job registry (run, join, fail, cancel, queue, bounds).

Deterministic: jobs block on threading.Event gates the test opens; every wait
has a timeout so a bug fails the test instead of hanging it.
"""
from __future__ import annotations

import threading
import time

import pytest

from analysis.compute.jobs import (
    Job,
    JobRegistry,
    RegistryFull,
    drop_shared_registry,
    shared_registries,
    shared_registry,
)
from tests.helpers import wait_until

T = 5.0  # generous timeout for waits that should return at once


class Gate:
    """A job function that signals when it started and blocks until released."""

    def __init__(self, result="ok", watch_stop=False):
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.saw_stop = False
        self.result = result
        self.watch_stop = watch_stop

    def __call__(self, job: Job):
        self.calls += 1
        self.started.set()
        while not self.release.wait(0.005):
            if self.watch_stop and job.should_stop():
                self.saw_stop = True
                return "partial"
        return self.result


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_run_returns_result_and_reports_progress():
    reg = JobRegistry()
    step = threading.Event()
    go_on = threading.Event()

    def fn(job):
        job.report(0.5, "epoch 1 of 2", latest=[{"epoch": 1, "loss": 0.9}])
        step.set()
        assert go_on.wait(T)
        job.report(1.0, "epoch 2 of 2", latest=[{"epoch": 1}, {"epoch": 2}])
        return {"accuracy": 0.93}

    job = reg.submit("k", "train MLP", fn, "s1")
    assert step.wait(T)
    assert job.status == "running"
    assert job.progress == 0.5 and job.message == "epoch 1 of 2"
    assert job.latest == [{"epoch": 1, "loss": 0.9}]
    assert reg.queue_position("k") == 0
    go_on.set()
    assert job.wait(T)
    assert job.status == "done" and job.result == {"accuracy": 0.93}
    assert job.progress == 1.0 and job.error is None
    assert job.latest == [{"epoch": 1}, {"epoch": 2}]
    assert job.finished is not None and job.finished >= job.created
    assert reg.get("k") is job and reg.get("nope") is None


def test_report_clamps_progress_and_keeps_unset_fields():
    job = Job("k", "label")
    job.report(1.7)
    assert job.progress == 1.0
    job.report(-3, "hello")
    assert job.progress == 0.0 and job.message == "hello"
    job.report(latest=None)
    assert job.latest is None and job.message == "hello"


def test_same_key_from_two_sessions_runs_once():
    reg = JobRegistry()
    gate = Gate(result=42)
    a = reg.submit("same", "t-SNE", gate, "s1")
    assert gate.started.wait(T)
    b = reg.submit("same", "t-SNE", gate, "s2")
    assert a is b and a.watchers == {"s1", "s2"}
    gate.release.set()
    assert a.wait(T)
    # Done results are shared: a third session joins the finished job.
    c = reg.submit("same", "t-SNE", gate, "s3")
    assert c is a and c.status == "done" and c.result == 42
    assert gate.calls == 1


def busy_registry() -> tuple[JobRegistry, Gate]:
    """A one-worker registry whose worker is held by a started (blocked) job: the next job queues."""
    reg, blocker = JobRegistry(max_workers=1), Gate()
    reg.submit("busy", "A", blocker, "s1")
    assert blocker.started.wait(T)
    return reg, blocker


def test_queued_job_is_joined_too():
    reg, first = busy_registry()
    second = Gate()
    j1 = reg.submit("b", "B", second, "s1")
    j2 = reg.submit("b", "B", second, "s2")
    assert j1 is j2 and j1.status == "queued"
    first.release.set()
    second.release.set()
    assert j1.wait(T) and second.calls == 1


def test_failure_becomes_failed_with_plain_message_and_worker_survives():
    reg = JobRegistry(max_workers=1)

    def boom(job):
        raise ValueError("Expected at least two classes; got one. Add a second folder.")

    job = reg.submit("bad", "train", boom, "s1")
    assert job.wait(T)
    assert job.status == "failed"
    assert job.error == "Expected at least two classes; got one. Add a second folder."
    assert job.result is None
    # The worker lives on: the next job runs.
    ok = reg.submit("good", "train", lambda job: "fine", "s1")
    assert ok.wait(T) and ok.status == "done" and ok.result == "fine"
    # A failed job is run again when asked again (not joined).
    calls = []
    again = reg.submit("bad", "train", lambda job: calls.append(1) or "second try", "s1")
    assert again is not job and again.wait(T)
    assert again.status == "done" and calls == [1]


def test_exception_without_message_uses_its_name():
    reg = JobRegistry()

    def fn(job):
        raise MemoryError()

    job = reg.submit("k", "l", fn, "s")
    assert job.wait(T)
    assert job.status == "failed" and job.error == "MemoryError"


def test_detaching_only_watcher_cancels_running_job():
    reg = JobRegistry()
    gate = Gate(watch_stop=True)
    job = reg.submit("k", "train", gate, "s1")
    assert gate.started.wait(T)
    assert not job.should_stop()
    reg.detach("k", "s1")
    assert job.should_stop()
    assert job.wait(T)
    assert gate.saw_stop
    assert job.status == "cancelled"
    # A cancelled result is never shared: the same request starts afresh.
    gate2 = Gate(result="fresh")
    gate2.release.set()
    again = reg.submit("k", "train", gate2, "s2")
    assert again is not job and again.wait(T) and again.result == "fresh"


def test_detaching_queued_job_means_it_never_runs():
    reg, blocker = busy_registry()
    never = Gate()
    job = reg.submit("later", "B", never, "s2")
    assert job.status == "queued"
    reg.detach("later", "s2")
    assert job.status == "cancelled" and job.should_stop() and job.wait(0)
    blocker.release.set()
    assert reg.get("busy").wait(T)
    # The registry's one worker thread ends when it finds the line empty: after that nothing can run "later".
    wait_until(lambda: reg.stats()["worker_threads"] == 0, T, "no worker thread left")
    assert never.calls == 0
    assert reg.get("later").status == "cancelled"


def test_detaching_one_of_two_watchers_does_not_cancel():
    reg = JobRegistry()
    gate = Gate(result="model", watch_stop=True)
    job = reg.submit("k", "train", gate, "s1")
    reg.submit("k", "train", gate, "s2")
    assert gate.started.wait(T)
    reg.detach("k", "s1")
    assert not job.should_stop() and job.watchers == {"s2"}
    gate.release.set()
    assert job.wait(T)
    assert job.status == "done" and job.result == "model" and not gate.saw_stop


def test_detach_unknown_key_or_session_is_harmless():
    reg = JobRegistry()
    reg.detach("nothing", "s1")
    done = reg.submit("k", "l", lambda job: 1, "s1")
    assert done.wait(T)
    reg.detach("k", "someone-else")
    reg.detach("k", "s1")
    assert done.status == "done" and reg.get("k") is done


def test_queue_position_with_one_worker():
    reg = JobRegistry(max_workers=1)
    gates = [Gate() for _ in range(3)]
    jobs = [reg.submit(f"k{i}", f"job {i}", g, f"s{i}") for i, g in enumerate(gates)]
    assert gates[0].started.wait(T)
    assert [reg.queue_position(f"k{i}") for i in range(3)] == [0, 1, 2]
    assert jobs[2].message == "queued: 2 jobs ahead of yours"
    assert jobs[1].message == "queued: 1 job ahead of yours"
    assert reg.queue_position("unknown") == 0
    gates[0].release.set()
    assert gates[1].started.wait(T)
    wait_until(lambda: reg.queue_position("k2") == 1, T, "k2 first in line")
    assert jobs[1].status == "running" and reg.queue_position("k1") == 0
    gates[1].release.set()
    gates[2].release.set()
    assert jobs[2].wait(T)
    assert [reg.queue_position(f"k{i}") for i in range(3)] == [0, 0, 0]


def test_two_workers_run_two_jobs_at_once():
    reg = JobRegistry(max_workers=2)
    a, b, c = Gate(), Gate(), Gate()
    reg.submit("a", "A", a, "s")
    reg.submit("b", "B", b, "s")
    jc = reg.submit("c", "C", c, "s")
    assert a.started.wait(T) and b.started.wait(T)
    assert jc.status == "queued" and reg.queue_position("c") == 2
    assert reg.stats()["running"] == 2
    for g in (a, b, c):
        g.release.set()
    assert jc.wait(T)


def test_bounded_by_entries_evicts_oldest_finished_first():
    reg = JobRegistry(max_entries=3)
    for i in range(3):
        assert reg.submit(f"k{i}", "l", lambda job, i=i: i, "s").wait(T)
    reg.submit("k3", "l", lambda job: 3, "s").wait(T)
    assert reg.get("k0") is None
    assert [reg.get(f"k{i}").result for i in (1, 2, 3)] == [1, 2, 3]
    assert reg.stats()["entries"] == 3


def test_running_and_queued_entries_are_never_evicted():
    reg = JobRegistry(max_workers=1, max_entries=2)
    running, queued = Gate(), Gate()
    reg.submit("run", "l", running, "s")
    assert running.started.wait(T)
    reg.submit("wait", "l", queued, "s")
    with pytest.raises(RegistryFull, match="busy"):
        reg.submit("third", "l", lambda job: 0, "s")
    assert reg.get("run").status == "running" and reg.get("wait").status == "queued"
    running.release.set()
    queued.release.set()
    assert reg.get("wait").wait(T)
    assert reg.submit("third", "l", lambda job: 0, "s").wait(T)
    assert reg.get("run") is None  # the oldest finished one made room


def test_bounded_by_age_with_injected_clock():
    clock = FakeClock()
    reg = JobRegistry(max_age_s=60, clock=clock)
    old = reg.submit("old", "l", lambda job: "old", "s")
    assert old.wait(T) and old.finished == 1000.0
    clock.t += 30
    fresh = reg.submit("fresh", "l", lambda job: "fresh", "s")
    assert fresh.wait(T)
    clock.t += 31  # "old" finished 61 s ago, "fresh" 31 s ago
    assert reg.get("old") is None
    assert reg.get("fresh") is fresh
    assert reg.stats()["entries"] == 1
    # An expired result is computed again, not joined.
    calls = []
    again = reg.submit("old", "l", lambda job: calls.append(1) or "again", "s")
    assert again is not old and again.wait(T) and calls == [1]


def test_running_job_older_than_max_age_is_kept():
    clock = FakeClock()
    reg = JobRegistry(max_age_s=10, clock=clock)
    gate = Gate()
    job = reg.submit("long", "l", gate, "s")
    assert gate.started.wait(T)
    clock.t += 100
    assert reg.get("long") is job
    gate.release.set()
    assert job.wait(T)


def test_stats_counts_by_status():
    reg = JobRegistry(max_workers=1)
    assert reg.submit("ok", "l", lambda job: 1, "s").wait(T)

    def fail(job):
        raise RuntimeError("nope")

    assert reg.submit("bad", "l", fail, "s").wait(T)
    gate = Gate()
    reg.submit("run", "l", gate, "s")
    assert gate.started.wait(T)
    reg.submit("wait", "l", Gate(), "s2")
    st = reg.stats()
    assert st["done"] == 1 and st["failed"] == 1 and st["running"] == 1 and st["queued"] == 1
    assert st["cancelled"] == 0 and st["entries"] == 4
    reg.detach("wait", "s2")
    assert reg.stats()["cancelled"] == 1
    gate.release.set()
    assert reg.get("run").wait(T)


def test_many_sessions_submitting_concurrently_run_once():
    reg = JobRegistry(max_workers=1)
    calls = []
    release = threading.Event()

    def fn(job):
        calls.append(1)
        release.wait(T)
        return "shared"

    barrier = threading.Barrier(8)
    got = []

    def session(i):
        barrier.wait(T)
        got.append(reg.submit("k", "l", fn, f"s{i}"))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T)
    release.set()
    assert len({id(j) for j in got}) == 1
    assert got[0].wait(T) and got[0].result == "shared"
    assert len(calls) == 1 and len(got[0].watchers) == 8


def test_shared_registry_is_a_singleton_per_name():
    try:
        a = shared_registry("test-jobs-a", max_workers=1)
        assert shared_registry("test-jobs-a") is a
        b = shared_registry("test-jobs-b", max_workers=2)
        assert b is not a and b.max_workers == 2
        assert shared_registries()["test-jobs-a"] is a and shared_registries()["test-jobs-b"] is b
    finally:
        drop_shared_registry("test-jobs-a")
        drop_shared_registry("test-jobs-b")
    assert "test-jobs-a" not in shared_registries() and "test-jobs-b" not in shared_registries()
    assert shared_registry("test-jobs-a", max_workers=3) is not a  # a fresh one after the drop
    drop_shared_registry("test-jobs-a")


def test_worker_threads_exit_when_idle():
    reg = JobRegistry(max_workers=2)
    for i in range(4):
        reg.submit(f"k{i}", "l", lambda job: None, "s")
    for i in range(4):
        assert reg.get(f"k{i}").wait(T)
    wait_until(lambda: reg.stats()["worker_threads"] == 0, T, "no worker thread left")


def test_shutdown_cancels_queued_jobs_and_waits_for_running_ones():
    from analysis.compute.jobs import JobRegistry

    reg = JobRegistry(max_workers=1)
    started = threading.Event()

    def slow(job):
        started.set()
        while not job.should_stop():
            time.sleep(0.01)
        return "stopped"

    running = reg.submit("a", "a", slow, "s1")
    queued = reg.submit("b", "b", slow, "s1")
    assert started.wait(5)
    reg.shutdown(timeout=5)
    assert running.is_finished and running.status == "cancelled"
    assert queued.status == "cancelled"


def test_version_grows_with_every_report_and_status_change():
    reg = JobRegistry()
    gate = Gate()
    job = reg.submit("v", "v", lambda j: (gate(j), j.report(0.5, "half"), j.report(latest=[1]))[0], "s1")
    gate.started.wait(T)
    v_running = job.version
    assert v_running >= 1  # queued -> running counted
    assert job.version == v_running  # nothing new: a fragment may skip its redraw
    job.report(0.1)
    assert job.version == v_running + 1
    job.report(message="still going")
    assert job.version == v_running + 2
    gate.release.set()
    assert job.wait(T)
    # two more reports inside fn, then the status change to 'done'
    assert job.version == v_running + 5
    assert job.status == "done" and job.latest == [1]
