"""analysis.compute.guesses (the guessing limiter, on a fake clock) and analysis.compute.cpus (how many CPUs)."""
from __future__ import annotations

import logging

import pytest

from analysis.compute.cpus import cgroup_cpu_limit, usable_cpus
from analysis.compute.guesses import GuessLimiter


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def limiter(clock, **kw) -> GuessLimiter:
    return GuessLimiter("the class password", clock=clock, **kw)


def wrong():
    return False


def test_free_tries_then_doubling_waits_capped():
    clock = Clock()
    g = limiter(clock, free_tries=3, first_wait_s=2, max_wait_s=60)
    waits = []
    for _ in range(10):
        v = g.attempt("s1", "10.0.0.5", wrong)
        assert v.checked and not v.ok
        waits.append(v.wait_s)
        clock.t += v.wait_s  # the person waits exactly as long as told
    assert waits == [0, 0, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_try_during_the_wait_is_refused_unchecked_and_says_wait_n_s():
    clock = Clock()
    g = limiter(clock, free_tries=1, first_wait_s=8)
    assert g.attempt("s1", "a", wrong).wait_s == 8
    clock.t += 2.5
    checked = []
    v = g.attempt("s1", "a", lambda: checked.append(1) or True)  # even the right password is not checked
    assert not v.ok and not v.checked and checked == []
    assert v.message == "Too many wrong tries: wait 6 s, then try again."
    assert g.wait_s("s1") == pytest.approx(5.5)
    clock.t += 5.5
    v = g.attempt("s1", "a", lambda: True)
    assert v.ok and v.checked and v.message is None
    assert g.wait_s("s1") == 0  # a right try starts afresh
    assert g.attempt("s1", "a", wrong).wait_s == 8  # free_tries=1: the next wrong one waits again


def test_wrong_message_names_what_and_says_what_to_do():
    g = limiter(Clock(), free_tries=2)
    assert g.attempt("s", "a", wrong).message == "That is not the class password: check it and try again."
    assert g.attempt("s", "a", wrong).message == ("That is not the class password. Too many wrong tries: "
                                                  "wait 2 s, then try again.")


def test_sessions_are_independent_behind_one_address():
    """A school's NAT: one student guessing does not slow the others down."""
    clock = Clock()
    g = limiter(clock, free_tries=3, address_ceiling=100)
    for _ in range(8):
        g.attempt("guesser", "203.0.113.7", wrong)
    assert g.wait_s("guesser", "203.0.113.7") > 0
    for i in range(29):  # the rest of the class, each with one typo, then the right password
        assert g.attempt(f"student{i}", "203.0.113.7", wrong).wait_s == 0
        assert g.attempt(f"student{i}", "203.0.113.7", lambda: True).ok


def test_the_address_ceiling_stops_fresh_sessions_then_lets_go_after_the_window():
    clock = Clock()
    g = limiter(clock, free_tries=3, address_ceiling=10, address_window_s=600)
    for i in range(10):  # ten fresh sessions, one wrong try each (what a script would do)
        assert g.attempt(f"s{i}", "198.51.100.1", wrong).checked
        clock.t += 1
    v = g.attempt("new", "198.51.100.1", lambda: True)
    assert not v.checked and v.message.startswith("Too many wrong tries from your network: wait ")
    assert v.wait_s == pytest.approx(600 - 10)
    assert g.attempt("other", "192.0.2.9", lambda: True).ok  # another address is not affected
    clock.t += v.wait_s
    assert g.attempt("new", "198.51.100.1", lambda: True).ok  # the oldest failure left the window


def test_log_names_session_and_address_never_the_password_and_is_capped(caplog):
    clock = Clock()
    g = limiter(clock, log_per_minute=5, free_tries=1000)
    secret_guess = "hunter2-guess"
    with caplog.at_level(logging.WARNING, logger="netlens.guesses"):
        for i in range(40):
            g.attempt(f"sess{i}", "10.1.2.3", lambda: secret_guess == "right")
            clock.t += 0.5  # 40 tries in 20 s
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5
    assert all("session=sess" in line and "address=10.1.2.3" in line and secret_guess not in line for line in lines)
    clock.t += 60
    with caplog.at_level(logging.WARNING, logger="netlens.guesses"):
        g.attempt("late", None, wrong)
    assert "35 more wrong tries were not logged" in caplog.records[-1].getMessage()
    assert "address=unknown" in caplog.records[-1].getMessage()


def test_memory_is_bounded():
    clock = Clock()
    g = limiter(clock, max_keys=50, address_ceiling=5)
    for i in range(500):
        g.attempt(f"s{i}", f"10.0.{i // 250}.{i % 250}", wrong)
    assert len(g._sessions) <= 50 and len(g._addresses) <= 50
    assert all(len(t) <= 5 for t in g._addresses.values())


@pytest.mark.parametrize("bad", [{"free_tries": 0}, {"first_wait_s": -1}, {"address_ceiling": 2.5},
                                 {"max_wait_s": float("nan")}, {"log_per_minute": True}])
def test_bad_settings_say_what_was_expected(bad):
    with pytest.raises(ValueError, match="Expected .* above 0; got"):
        GuessLimiter(**bad)


# ---------------------------------------------------------------- analysis.compute.cpus


def test_cpu_quota_from_cgroup_v2_and_v1(tmp_path):
    f = tmp_path / "cpu.max"
    missing = str(tmp_path / "none")
    for text, want in (("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1), ("max 100000", None)):
        f.write_text(text + "\n")
        assert cgroup_cpu_limit(str(f), missing, missing) == want, text
    q, p = tmp_path / "q", tmp_path / "p"
    q.write_text("300000\n"), p.write_text("100000\n")
    assert cgroup_cpu_limit(missing, str(q), str(p)) == 3
    q.write_text("-1\n")
    assert cgroup_cpu_limit(missing, str(q), str(p)) is None
    assert cgroup_cpu_limit(missing, missing, missing) is None


def test_usable_cpus_is_the_smaller_of_affinity_and_quota(tmp_path):
    f = tmp_path / "cpu.max"
    missing = str(tmp_path / "none")
    f.write_text("200000 100000")
    assert usable_cpus(set(range(16)), str(f), missing, missing) == 2
    assert usable_cpus({0}, str(f), missing, missing) == 1
    f.write_text("max 100000")
    assert usable_cpus({3, 5, 7}, str(f), missing, missing) == 3
    assert usable_cpus(None, missing, missing, missing) >= 1
