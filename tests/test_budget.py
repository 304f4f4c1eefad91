"""analysis.compute.budget: the memory budget (fair line, never-fits, release, page tickets, limits).

Waits are driven by threads and Events with generous timeouts: a bug fails, never hangs.
"""
from __future__ import annotations

import threading

import pytest

from analysis.compute import budget as B
from analysis.compute.budget import MB, MemoryBudget, NeverFits, WaitCancelled, WaitTimeout
from tests.helpers import wait_until

T = 10.0


def hold_in_thread(budget, nbytes, name, order, release: threading.Event, **kw):
    """A thread that reserves, records its name when admitted, and holds until `release`."""
    def run():
        with budget.reserve(nbytes, name, f"work of {name}", poll_s=0.01, **kw):
            order.append(name)
            release.wait(T)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_reserve_and_release_counts_bytes():
    b = MemoryBudget(100)
    with b.reserve(60, "s1", "decode") as t:
        assert t.granted and b.reserved_bytes == 60
        assert b.position(t) == 0
    assert b.reserved_bytes == 0 and t.state == "released"


def test_never_fits_has_the_plain_message_and_reserves_nothing():
    b = MemoryBudget(100 * MB)
    with pytest.raises(NeverFits) as e:
        with b.reserve(101 * MB, "s1", "decoding a 9000×9000 photo"):
            pass
    assert str(e.value).startswith("This needs more memory than the server has; try a smaller photo")
    assert "101 MB" in str(e.value) and "100 MB" in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(NeverFits, match="use fewer points"):
        b.try_reserve(200 * MB, "s1", "a map", hint="use fewer points")
    assert b.stats()["waiting"] == [] and b.reserved_bytes == 0


def test_release_on_exception():
    b = MemoryBudget(100)
    with pytest.raises(ZeroDivisionError):
        with b.reserve(80, "s1", "filter"):
            1 / 0
    assert b.reserved_bytes == 0
    with b.reserve(100, "s2", "all of it"):  # the whole budget is free again
        assert b.reserved_bytes == 100


def test_waiting_reservation_completes_after_another_is_released():
    b = MemoryBudget(100)
    first = b.try_reserve(70, "s1", "training")
    assert first.granted
    places = []
    admitted = threading.Event()

    def second():
        with b.reserve(50, "s2", "map", on_wait=places.append, poll_s=0.01):
            admitted.set()

    t = threading.Thread(target=second, daemon=True)
    t.start()
    wait_until(lambda: places == [1], T, "the waiter told its place, 1")
    assert not admitted.is_set()
    assert [w["holder"] for w in b.stats()["waiting"]] == ["s2"]
    first.release()
    assert admitted.wait(T)
    t.join(T)
    assert b.reserved_bytes == 0


def test_fifo_order_small_work_does_not_overtake():
    b = MemoryBudget(100)
    blocker = b.try_reserve(100, "s0", "blocker")
    order = []
    gates = {name: threading.Event() for name in ("big", "mid", "small")}
    threads = []
    for name, size in (("big", 90), ("mid", 20), ("small", 5)):
        threads.append(hold_in_thread(b, size, name, order, gates[name]))
        wait_until(lambda n=name: any(w["holder"] == n for w in b.stats()["waiting"]), T, f"{name} in line")
    assert [(w["holder"], w["position"]) for w in b.stats()["waiting"]] == [("big", 1), ("mid", 2), ("small", 3)]
    blocker.release()  # grants at once, under the budget's lock: what is granted now is all there is
    # "small" (5) would fit beside "big" (90) but is behind "mid" (20), which does not
    assert [h["holder"] for h in b.stats()["holders"]] == ["big"] and b.reserved_bytes == 90
    assert [(w["holder"], w["position"]) for w in b.stats()["waiting"]] == [("mid", 1), ("small", 2)]
    wait_until(lambda: order == ["big"], T, "the big one admitted first")
    assert [(w["holder"], w["position"]) for w in b.stats()["waiting"]] == [("mid", 1), ("small", 2)]
    gates["big"].set()
    wait_until(lambda: sorted(order) == ["big", "mid", "small"], T, "all three admitted")
    for g in gates.values():
        g.set()
    for t in threads:
        t.join(T)
    assert b.reserved_bytes == 0


def test_fifo_big_head_blocks_later_small_ones_until_it_is_admitted():
    b = MemoryBudget(100)
    holder = b.try_reserve(60, "s0", "running")
    big = b.try_reserve(50, "s1", "big")       # does not fit beside 60
    small = b.try_reserve(10, "s2", "small")   # would fit, but the line is fair
    assert not big.granted and not small.granted
    assert (b.position(big), b.position(small)) == (1, 2)
    holder.release()
    assert big.granted and small.granted and b.reserved_bytes == 60


def test_try_reserve_ticket_lifecycle_and_position():
    b = MemoryBudget(100)
    a = b.try_reserve(100, "s1", "decode")
    c = b.try_reserve(30, "s2", "decode")
    d = b.try_reserve(30, "s3", "decode")
    assert (b.position(a), b.position(c), b.position(d)) == (0, 1, 2)
    with pytest.raises(RuntimeError, match="not granted"):
        with c:
            pass
    c.release()  # s2 gave up: s3 moves up
    assert b.position(d) == 1 and b.position(c) is None
    with a:
        pass  # work done inside the ticket; released on exit
    assert b.position(d) == 0
    with d:
        assert b.reserved_bytes == 30
    assert b.reserved_bytes == 0


def test_forgotten_page_tickets_expire_but_work_in_progress_does_not():
    now = [0.0]
    b = MemoryBudget(100, ticket_ttl_s=30, clock=lambda: now[0])
    used = b.try_reserve(50, "s1", "decode")
    used.__enter__()                         # in use: never expires
    forgotten = b.try_reserve(50, "s2", "decode")  # granted, never claimed
    waiting = b.try_reserve(10, "s3", "decode")    # in line, session gone
    now[0] = 31.0
    st = b.stats()
    assert [h["holder"] for h in st["holders"]] == ["s1"] and st["waiting"] == []
    assert forgotten.state == waiting.state == "released"
    used.__exit__(None, None, None)
    assert b.reserved_bytes == 0


def test_a_job_waiting_behind_a_forgotten_page_ticket_gets_through():
    now = [0.0]
    b = MemoryBudget(100, ticket_ttl_s=30, clock=lambda: now[0])
    b.try_reserve(100, "gone", "decode")  # granted, never used: the session went away
    admitted = threading.Event()

    def job():
        with b.reserve(60, "s1", "training", poll_s=0.01):
            admitted.set()

    t = threading.Thread(target=job, daemon=True)
    t.start()
    wait_until(lambda: len(b.stats()["waiting"]) == 1, T, "one in line")
    assert not admitted.wait(0.1)
    now[0] = 31.0  # nobody else calls the budget: the waiting job itself drops the stale ticket
    assert admitted.wait(T)
    t.join(T)


def test_should_stop_and_timeout_end_the_wait_and_leave_the_line():
    b = MemoryBudget(10)
    hold = b.try_reserve(10, "s0", "all")
    with pytest.raises(WaitCancelled):
        with b.reserve(5, "s1", "map", should_stop=lambda: True, poll_s=0.01):
            pass
    with pytest.raises(WaitTimeout):
        with b.reserve(5, "s1", "map", timeout=0.05, poll_s=0.01):
            pass
    assert b.stats()["waiting"] == []
    hold.release()


def test_stats_for_admin():
    b = MemoryBudget(1000, wall_clock=lambda: 500.0)
    b.try_reserve(600, "alice", "training an MLP")
    b.try_reserve(600, "bob", "a t-SNE map")
    st = b.stats()
    assert st["total_bytes"] == 1000 and st["reserved_bytes"] == 600 and st["free_bytes"] == 400
    assert st["holders"][0] == {"holder": "alice", "label": "training an MLP", "bytes": 600, "since": 500.0,
                                "seconds": 0.0, "granted_at": 500.0}
    assert st["waiting"][0]["holder"] == "bob" and st["waiting"][0]["position"] == 1


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="total_bytes"):
        MemoryBudget(0)
    b = MemoryBudget(10)
    with pytest.raises(ValueError, match="nbytes"):
        b.try_reserve(-1, "s", "x")


# ---------------------------------------------------------------- how much memory there is

def test_cgroup_v2_limit(tmp_path):
    v2 = tmp_path / "memory.max"
    v2.write_text(f"{2700 * MB}\n")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24576000 kB\nMemFree: 1 kB\n")
    assert B.cgroup_limit_bytes(v2, tmp_path / "none") == 2700 * MB
    assert B.default_total_bytes({}, v2, tmp_path / "none", meminfo, margin_bytes=700 * MB) == 2000 * MB


def test_cgroup_max_means_none_then_meminfo(tmp_path):
    v2 = tmp_path / "memory.max"
    v2.write_text("max\n")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        4096000 kB\n")
    assert B.cgroup_limit_bytes(v2, tmp_path / "none") is None
    assert B.host_memory_bytes(v2, tmp_path / "none", meminfo) == 4096000 * 1024
    assert B.default_total_bytes({}, v2, tmp_path / "none", meminfo, margin_bytes=0) == 4096000 * 1024


def test_cgroup_v1_limit_and_its_no_limit_number(tmp_path):
    v1 = tmp_path / "memory.limit_in_bytes"
    v1.write_text("9223372036854771712\n")
    assert B.cgroup_limit_bytes(tmp_path / "none", v1) is None
    v1.write_text(f"{1024 * MB}\n")
    assert B.cgroup_limit_bytes(tmp_path / "none", v1) == 1024 * MB
    # a limit above the machine's memory: the machine's memory counts
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        524288 kB\n")
    assert B.host_memory_bytes(tmp_path / "none", v1, meminfo) == 512 * MB


def test_env_wins_and_margin_has_a_floor(tmp_path):
    assert B.default_total_bytes({"NETLENS_MEMORY_MB": "1500"}, tmp_path / "a", tmp_path / "b",
                                 tmp_path / "c") == 1500 * MB
    with pytest.raises(ValueError, match="NETLENS_MEMORY_MB"):
        B.default_total_bytes({"NETLENS_MEMORY_MB": "lots"})
    v2 = tmp_path / "memory.max"
    v2.write_text(f"{512 * MB}")
    assert B.default_total_bytes({}, v2, tmp_path / "b", tmp_path / "c") == B.MIN_BUDGET_BYTES
    assert B.default_total_bytes({}, tmp_path / "a", tmp_path / "b", tmp_path / "c",
                                 margin_bytes=0) == B.UNKNOWN_HOST_BYTES


# ---------------------------------------------------------------- estimators

def test_estimators_scale_with_the_work():
    assert B.image_decode_bytes(4000, 3000) == 4000 * 3000 * 3 * 5  # uint8 + float32 copy
    assert B.convolution_bytes(4000, 3000) > B.convolution_bytes(1600, 1200)
    small = B.training_bytes(5000, (28, 28), 407_050)
    assert 40 * MB < small < 400 * MB
    assert B.training_bytes(60000, (28, 28), 407_050) > 2 * small
    assert B.training_bytes(5000, (28, 28), 407_050, optimizer="sgd") < small
    tsne = B.map_bytes(5000, 512)
    assert B.map_bytes(20000, 512) > tsne > B.map_bytes(1000, 512)
    assert B.map_bytes(5000, 512, method="tsne-exact") > tsne
    with pytest.raises(ValueError, match="method"):
        B.map_bytes(10, 10, method="umap")
    with pytest.raises(ValueError, match="width"):
        B.image_decode_bytes(-5, 10)
