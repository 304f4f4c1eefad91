"""The class board in the shared store (analysis/compute/board_shared.py): two stores on one folder stand for
two app servers. A digit sent on B shows on A; caps, the flood gap, freeze, hide and withdraw hold across
them; every file is signed and checked on read; a poll while nothing changed is one small read; two
processes sending at once lose nothing (the board's lock)."""
import concurrent.futures
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest

from analysis.compute import store_key
from analysis.compute.board import ALPHABET, BoardError, BoardStore
from analysis.compute.board_shared import SharedBoardStore
from analysis.compute.guesses import GuessLimiter
from dashboard.board.state import make_store
from tests.helpers import Clock

KEY = b"s" * 32


def digit(seed: int = 0) -> np.ndarray:
    x = np.zeros((28, 28))
    x[6:22, 12:16] = np.random.default_rng(seed).uniform(0.6, 1.0, (16, 4))
    return x


def server(root: Path, clock=None, **kw) -> SharedBoardStore:
    clock = clock or Clock()
    kw.setdefault("min_gap_s", 0)
    return SharedBoardStore(str(root), key=KEY, clock=clock, limiter=GuessLimiter("the join code", clock=clock), **kw)


def test_a_digit_sent_on_server_b_shows_on_server_a_and_the_rules_hold_across_them(tmp_path):
    clock = Clock()
    a, b = server(tmp_path, clock, per_session=2, min_gap_s=1.0), server(tmp_path, clock, per_session=2,
                                                                        min_gap_s=1.0)
    code = a.open("lecturer on A")
    assert b.join("student on B", "10.0.0.9", code.lower())[0] == code
    v0 = a.view(code).version
    sent = b.send(code, "alice", digit(1), 7)
    seen = a.view(code)
    assert seen.version > v0 and [(d.id, d.label, d.sender) for d in seen.digits] == [(1, 7, "alice")]
    assert np.array_equal(seen.digits[0].image, sent.image)
    with pytest.raises(BoardError, match="faster than the board"):  # the flood gap counts B's send on A
        a.send(code, "alice", digit(2), 1)
    clock.t += 1
    a.send(code, "alice", digit(2), 1)
    clock.t += 1
    with pytest.raises(BoardError, match="2 digits, the most one person may"):
        b.send(code, "alice", digit(3), 1)
    assert [d.id for d in b.mine(code, "alice")] == [1, 2]
    assert b.withdraw(code, "alice", 2) and [d.id for d in a.view(code).digits] == [1]  # withdrawn on B, gone on A
    a.freeze(code)
    with pytest.raises(BoardError, match="paused"):
        b.send(code, "bob", digit(4), 4)
    a.freeze(code, False)
    b.send(code, "bob", digit(4), 4)
    a.hide(code, 1)
    assert [d.label for d in b.view(code).digits] == [4] and b.view(code).hidden == 1
    assert not (tmp_path / "boards" / code / "d" / "1").exists()  # hidden and withdrawn digits leave the store
    assert a.owns(code, "lecturer on A") and not b.owns(code, "student on B")


def test_caps_on_boards_and_expiry_count_every_server(tmp_path):
    clock = Clock()
    a, b = server(tmp_path, clock, max_boards=2, expiry_s=60), server(tmp_path, clock, max_boards=2, expiry_s=60)
    first = a.open("x")
    b.open("y")
    with pytest.raises(BoardError, match="2 open boards"):
        a.open("z")
    b.send(first, "alice", digit(), 1)
    assert a.stats() == {"boards": 2, "digits": 1}
    clock.t += 60
    assert b.view(first) is None and a.version(first) is None
    with pytest.raises(BoardError, match="has ended"):
        b.send(first, "alice", digit(), 1)
    a.open("z")  # the expired ones are gone from the store
    assert a.stats()["boards"] == 1 and not (tmp_path / "boards" / first).exists()


def test_every_file_is_signed_and_one_that_fails_the_check_is_not_served(tmp_path, caplog):
    a = server(tmp_path)
    code, other = a.open("x"), a.open("y")
    a.send(code, "alice", digit(1), 3)
    a.send(code, "bob", digit(2), 4)
    a.send(other, "carol", digit(3), 5)
    folder = tmp_path / "boards" / code
    for name in ("version", "board.json", "d/1"):
        assert (folder / name).read_bytes().startswith(store_key.LIVE_MAGIC)
    # A picture moved from another board (its own valid signature, bound to the other path) is not shown.
    (folder / "d" / "2").write_bytes((tmp_path / "boards" / other / "d" / "1").read_bytes())
    fresh = server(tmp_path)
    assert [d.id for d in fresh.view(code).digits] == [1]
    assert "not signed with this store's key" in caplog.text
    # A board altered by someone without the key (here: a plain unsigned board) reads as missing.
    state = json.loads(store_key.verify_bytes((folder / "board.json").read_bytes(), KEY,
                                              f"boards/{code}/board.json"))
    state["per_session"], state["owner"] = 1000, "mallory"
    (folder / "board.json").write_bytes(json.dumps(state).encode())
    assert server(tmp_path).view(code) is None and not server(tmp_path).owns(code, "mallory")
    # Signed with another key: the same.
    other_key = SharedBoardStore(str(tmp_path), key=b"o" * 32)
    assert other_key.view(other) is None and server(tmp_path).view(other) is not None


def test_a_poll_while_nothing_changed_is_one_small_read(tmp_path, monkeypatch):
    a, b = server(tmp_path), server(tmp_path)
    code = a.open("x")
    for i in range(30):
        b.send(code, f"s{i}", digit(i), i % 10)
    assert len(a.view(code).digits) == 30
    reads: list[tuple[str, int]] = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        data = real(self)
        reads.append((self.name, len(data)))
        return data

    monkeypatch.setattr(Path, "read_bytes", counting)
    for _ in range(5):
        assert len(a.view(code).digits) == 30
    assert [name for name, _ in reads] == ["version"] * 5 and max(n for _, n in reads) < 200
    b.send(code, "late", digit(99), 9)
    reads.clear()
    assert len(a.view(code).digits) == 31
    assert sorted(name for name, _ in reads) == ["31", "board.json", "version"]  # only the new picture


def _send_many(root: str, code: str, who: str, n: int) -> list[int]:
    s = SharedBoardStore(root, key=KEY, min_gap_s=0)
    return [s.send(code, f"{who}{i}", digit(i), i % 10).id for i in range(n)]


def test_two_processes_sending_at_once_lose_nothing(tmp_path):
    code = server(tmp_path, time.time).open("x")  # the real clock, as the other processes'
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(_send_many, str(tmp_path), code, who, 15) for who in ("a", "b")]
        ids = [i for j in jobs for i in j.result(timeout=120)]
    view = server(tmp_path, time.time).view(code)
    assert sorted(ids) == list(range(1, 31)) == [d.id for d in view.digits]
    assert len(os.listdir(tmp_path / "boards" / code / "d")) == 30


def test_the_back_end_chooses_the_implementation(tmp_path):
    assert type(make_store(False)) is BoardStore  # the single-machine back end: this process's memory
    shared = make_store(True, {"NETLENS_STORE": str(tmp_path), "NETLENS_STORE_KEY": "k" * 32})
    assert isinstance(shared, SharedBoardStore) and shared.root == tmp_path / "boards"


def test_the_ceiling_on_wrong_codes_from_one_address_counts_every_server(tmp_path, caplog):
    clock = Clock()

    def limited():
        return SharedBoardStore(str(tmp_path), key=KEY, clock=clock, min_gap_s=0, limiter=GuessLimiter(
            "the join code", clock=clock, address_ceiling=4, address_window_s=600))

    a, b = limited(), limited()
    code = a.open("x")
    wrong = "".join(ALPHABET[(ALPHABET.index(c) + 1) % len(ALPHABET)] for c in code)
    for i, store in enumerate((a, b, a, b)):  # four sessions behind one NAT, two on each server
        assert store.join(f"s{i}", "192.0.2.7", wrong)[0] is None
    joined, verdict = a.join("s9", "192.0.2.7", code)  # the right code, but the address is past the ceiling
    assert joined is None and not verdict.checked and "from your network: wait 600 s" in verdict.message
    assert b.join("s10", "198.51.100.1", code)[0] == code  # another address is not held up
    assert "192.0.2.7" not in "".join(p.name + p.read_text("latin-1") for p in (tmp_path / "boards" /
                                                                               ".guesses").iterdir())
    clock.t += 600
    assert a.join("s9", "192.0.2.7", code)[0] == code  # the window passed
