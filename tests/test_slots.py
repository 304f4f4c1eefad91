"""Waiting never blocks others (issue 29): work waiting for memory (dashboard/core/memory.py) gives its
feature-page slot back while it waits and takes one again to run.

A 2-slot server (a 2-core machine): one job holds the whole memory budget, two heavy pages wait for
memory inside their slots, and a light feature page still gets a slot and answers. Then the job ends,
both heavy pages run (each with a slot again) and every slot comes back. Threads stand for the
sessions' script threads, running the real runtime.feature_page_slot and memory.held."""
from __future__ import annotations

import threading

import pytest

from analysis.compute.budget import MB, MemoryBudget
from dashboard.core import memory, runtime, server
from tests.helpers import wait_until

HANG_S = 60  # only to detect a hang


@pytest.fixture
def two_slots(monkeypatch):
    slots = threading.BoundedSemaphore(2)
    monkeypatch.setattr(runtime, "FEATURE_PAGE_SLOTS", slots)
    budget = MemoryBudget(100 * MB)
    monkeypatch.setattr(server, "MEMORY", budget)
    return slots, budget


def test_a_light_page_answers_while_two_heavy_ones_wait_for_memory(two_slots):
    slots, budget = two_slots
    ran_in_slot: list[bool] = []
    done = [threading.Event(), threading.Event()]
    errors: list[BaseException] = []

    def heavy(i: int) -> None:
        try:
            with runtime.feature_page_slot(wait_s=HANG_S):
                with memory.held(60 * MB, f"photo {i}"):
                    ran_in_slot.append(runtime._slot.held)  # it works holding a slot again
            done[i].set()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    with budget.reserve(100 * MB, "a training", "the job holding the budget"):
        threads = [threading.Thread(target=heavy, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        wait_until(lambda: len(budget.stats()["waiting"]) == 2 or errors, HANG_S, "both heavy pages waiting for memory")
        assert not errors, errors

        light = threading.Event()

        def light_page() -> None:
            with runtime.feature_page_slot(wait_s=HANG_S):  # before the fix: stuck behind the two waiters
                light.set()

        t_light = threading.Thread(target=light_page, daemon=True)
        t_light.start()
        t_light.join(HANG_S)
        assert light.is_set(), "the light page did not get a slot while the heavy ones waited"
        assert not any(d.is_set() for d in done)  # the heavy ones are still waiting for the budget
        assert len(budget.stats()["waiting"]) == 2

    for t in threads:
        t.join(HANG_S)
    assert not errors, errors
    assert all(d.is_set() for d in done) and ran_in_slot == [True, True]
    assert budget.stats()["reserved_bytes"] == 0
    got = [slots.acquire(blocking=False) for _ in range(3)]
    assert got == [True, True, False]  # both slots back, no more (BoundedSemaphore: no double release)
    slots.release(), slots.release()


def test_work_that_fits_keeps_its_slot(two_slots):
    slots, budget = two_slots
    with runtime.feature_page_slot(wait_s=5):
        with memory.held(10 * MB, "a small photo"):
            assert runtime._slot.held
            assert slots.acquire(blocking=False)  # one slot used, one left
            slots.release()
    assert [slots.acquire(blocking=False) for _ in range(3)] == [True, True, False]


def test_slot_count_comes_from_usable_cpus():
    from analysis.compute.cpus import usable_cpus

    n = usable_cpus()
    assert runtime.FEATURE_PAGE_SLOTS._initial_value == n  # BoundedSemaphore keeps its size
