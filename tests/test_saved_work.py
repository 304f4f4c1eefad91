"""Saved work across a reload (issue 33), without a browser: the work ids (random, renewed when unknown,
expired or retired by Start over), the memory budget held by restored uploads (restored sessions stay
inside it; what does not fit is left behind and named), and the hand-over of watched jobs and sweep runs."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pytest

from analysis.compute.budget import MB, MemoryBudget
from analysis.compute.jobs import JobRegistry
from analysis.compute.sweep_line import SweepLine
from dashboard.core import runtime, saved_work, server
from dashboard.core.uploads import Picture, Upload, UploadSlot


@dataclass
class FeatureState:  # like a feature's session object: upload slots among its fields
    photo: UploadSlot = field(default_factory=UploadSlot)
    other: UploadSlot = field(default_factory=UploadSlot)
    note: str = "x"


def picture_slot(name: str, side: int) -> UploadSlot:
    image = np.zeros((side, side, 3), np.uint8)
    return UploadSlot(current=Upload(name, f"id-{name}", b"\0" * 1000, b"\0" * 100, Picture(image, side, side)))


@pytest.fixture
def clean(monkeypatch):
    """An empty table of ids; a controllable clock, TTL and set of sessions the server holds. The GC
    thread of an app an earlier test started in this process runs no hooks meanwhile: its prune()
    would race the test's own (seen in CI: the id was gone before the test pruned it)."""
    monkeypatch.setattr(runtime, "_AFTER_CLOSE", [])
    monkeypatch.setattr(saved_work, "_WORK", {})
    clock = {"t": 1000.0}
    held: set[str] = set()
    monkeypatch.setattr(runtime, "now", lambda: clock["t"])
    monkeypatch.setattr(runtime, "session_ttl_s", lambda: 120.0)
    monkeypatch.setattr(runtime, "session_held", lambda sid: sid in held)
    return clock, held


def test_ids_are_random_and_renewed_only_when_unknown_or_retired(clean):
    first, second = saved_work.renew(None), saved_work.renew(None)
    assert first != second and len(first) >= 40  # 256 random bits, URL-safe base64
    assert saved_work.renew(first) is None  # known: the browser keeps it
    assert saved_work.renew("made-up") not in (None, "made-up")  # an id this server never issued is not taken
    work = saved_work._WORK[first]
    work.retired = True  # Start over
    third = saved_work.renew(first)
    assert third not in (None, first) and not saved_work.known(first)
    assert saved_work._WORK[third] is work and not work.retired  # the work goes on under the new id


def test_an_id_expires_ttl_after_its_last_session_is_gone(clean):
    clock, held = clean
    wid = saved_work.renew(None)
    saved_work._WORK[wid].sessions.append("s1")
    held.add("s1")
    clock["t"] += 500
    assert saved_work.prune() == 0 and saved_work.known(wid)  # its session is held: it lives
    held.discard("s1")  # the session expired and was shut down
    clock["t"] += 100
    assert saved_work.prune() == 0 and saved_work.known(wid)
    clock["t"] += 30  # 130 s after the session was last held: past the 120 s TTL
    assert saved_work.prune() == 1 and not saved_work.known(wid)
    assert saved_work.renew(wid) is not None  # the browser's next page load gets a new id


def test_restored_uploads_hold_their_bytes_in_the_budget_until_the_id_expires(clean, monkeypatch):
    clock, _ = clean
    budget = MemoryBudget(64 * MB)
    monkeypatch.setattr(server, "MEMORY", budget)
    wid = saved_work.renew(None)
    work = saved_work._WORK[wid]
    state = FeatureState(photo=picture_slot("street.jpg", 1400))
    values = {"convolution": state, "train_epochs": 3}
    expected = 1000 + 100 + 1400 * 1400 * 3
    assert saved_work._hold_uploads(work, values) == []
    assert budget.reserved_bytes == expected == saved_work.held_upload_bytes()
    assert saved_work._hold_uploads(work, values) == []  # a second reload of the same work: held once, not twice
    assert budget.reserved_bytes == expected
    clock["t"] += 10_000  # no session of it held for longer than the TTL
    assert saved_work.prune() == 1
    assert budget.reserved_bytes == 0 and saved_work.held_upload_bytes() == 0


def test_restored_sessions_stay_inside_the_budget_and_name_what_did_not_fit(clean, monkeypatch):
    budget = MemoryBudget(20 * MB)
    monkeypatch.setattr(server, "MEMORY", budget)
    one = picture_slot("a.jpg", 1400)  # ~5.6 MB each
    per = saved_work.upload_bytes(one)
    kept, left = 0, []
    for i in range(6):  # six browsers reload, each with a photo: ~34 MB of uploads against 20 MB
        work = saved_work._WORK[saved_work.renew(None)]
        state = FeatureState(photo=picture_slot(f"photo{i}.jpg", 1400))
        names = saved_work._hold_uploads(work, {"predict": state})
        if names:
            assert names == [f"photo{i}.jpg"] and state.photo.current is None  # left behind, and named
            left.append(i)
        else:
            assert state.photo.current is not None
            kept += 1
        assert budget.reserved_bytes <= budget.total_bytes
    assert kept == budget.total_bytes // per and len(left) == 6 - kept > 0
    assert budget.reserved_bytes == kept * per


def test_an_upload_bigger_than_the_whole_budget_is_left_behind(clean, monkeypatch):
    monkeypatch.setattr(server, "MEMORY", MemoryBudget(1 * MB))
    work = saved_work._WORK[saved_work.renew(None)]
    state = FeatureState(photo=picture_slot("huge.jpg", 1400), other=picture_slot("tiny.png", 10))
    assert saved_work._hold_uploads(work, {"trust": state}) == ["huge.jpg"]
    assert state.photo.current is None and state.other.current is not None


def test_watched_jobs_and_sweep_runs_move_to_the_new_session():
    reg = JobRegistry(max_workers=1, max_entries=8)
    gate = threading.Event()
    try:
        reg.submit("busy", "busy", lambda job: gate.wait(30), "old")
        line = SweepLine(reg, share=1, poll_s=0.02)
        line.enqueue("old", [("r1", "run 1", lambda job: 1), ("r2", "run 2", lambda job: 2)])
        assert line.waiting("old") == ["r2"]  # r1 went into the registry (the sweep's share), r2 waits
        assert reg.hand_over("old", "new") == 2
        assert reg.get("busy").watchers == reg.get("r1").watchers == frozenset({"new"})
        line.hand_over("old", "new")
        assert line.waiting("new") == ["r2"] and line.waiting("old") == []
        line.cancel("new")
        assert line.waiting() == []
    finally:
        gate.set()
        reg.shutdown(timeout=5)
