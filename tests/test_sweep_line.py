"""The sweeps' own line: at most `share` sweep runs in the registry at once, single runs unaffected."""
import threading

import pytest

from analysis.compute.jobs import JobRegistry
from analysis.compute.sweep_line import SweepLine


def gated(gate: threading.Event, seen: list):
    def fn(job):
        seen.append(job.key)
        assert gate.wait(30)
        return job.key
    return fn


@pytest.fixture
def registry():
    reg = JobRegistry(max_workers=2, max_entries=64)
    yield reg
    reg.shutdown(timeout=5)


def test_at_most_share_sweep_runs_enter_the_registry_and_the_rest_wait_in_order(registry):
    gate, seen = threading.Event(), []
    line = SweepLine(registry, share=1, poll_s=0.02)
    line.enqueue("a", [(f"s{i}", f"run {i}", gated(gate, seen)) for i in range(4)])
    assert line.active() == 1 and line.waiting("a") == ["s1", "s2", "s3"]
    assert line.place("s1") == 1 and line.place("s3") == 3 and line.place("s0") == 0
    single = registry.submit("single", "a single training", lambda job: "mine", "b")  # not in the line
    assert single.wait(10) and single.result == "mine"  # a free worker: it did not wait for the sweep
    gate.set()
    for key in ("s0", "s1", "s2", "s3"):
        for _ in range(500):
            if registry.get(key) is not None:
                break
            threading.Event().wait(0.02)
        assert registry.get(key).wait(10)
    assert seen == ["s0", "s1", "s2", "s3"] and not line.waiting()


def test_a_run_the_registry_already_has_is_joined_without_a_slot(registry):
    done = registry.submit("shared", "trained alone before", lambda job: 42, "b")
    assert done.wait(10)
    gate, seen = threading.Event(), []
    line = SweepLine(registry, share=1, poll_s=0.02)
    line.enqueue("a", [("s0", "run 0", gated(gate, seen)), ("shared", "run 1", gated(gate, seen))])
    # s0 holds the only slot, the shared run joins the finished job at once and is not run again
    assert line.waiting("a") == [] and registry.get("shared").result == 42
    gate.set()
    assert registry.get("s0").wait(10) and seen == ["s0"]


def test_cancel_leaves_the_line_and_detaches(registry):
    gate, seen = threading.Event(), []
    line = SweepLine(registry, share=1, poll_s=0.02)
    line.enqueue("a", [("s0", "run 0", gated(gate, seen)), ("s1", "run 1", gated(gate, seen))])
    line.enqueue("b", [("t0", "run 0 of b", lambda job: "b0")])
    line.cancel("a", ["s0", "s1"])
    assert line.waiting() == ["t0"]
    assert registry.get("s0").should_stop()  # nobody watches it any more
    gate.set()
    assert registry.get("s0").wait(10)
    for _ in range(500):
        if registry.get("t0") is not None and registry.get("t0").is_finished:
            break
        threading.Event().wait(0.02)
    assert registry.get("t0").result == "b0" and "s1" not in seen


def test_share_must_be_a_positive_whole_number(registry):
    with pytest.raises(ValueError, match="share"):
        SweepLine(registry, share=0)
