"""The class board's store, on a clock the tests move by hand: every test runs on both implementations
of the one interface, the single-machine back end's (analysis/compute/board.py, in memory) and the
cluster back end's (analysis/compute/board_shared.py, in the shared store's folder)."""
import csv
import io

import cv2
import numpy as np
import pytest

from analysis.compute.board import (
    ALPHABET,
    CODE_LENGTH,
    BoardError,
    BoardStore,
    as_board_digit,
    board_csv,
    gallery_png,
    new_sender_id,
    normalise_code,
)
from analysis.compute.board_shared import SharedBoardStore
from analysis.compute.guesses import GuessLimiter
from tests.helpers import Clock

KEY = b"k" * 32  # the store's signing key in these tests
BACKEND = {"kind": "memory", "root": None}


@pytest.fixture(autouse=True, params=["memory", "shared"])
def backend(request, tmp_path):
    """Each test once on each implementation of the board store."""
    BACKEND.update(kind=request.param, root=tmp_path / "store")
    yield request.param


def digit(seed: int = 0) -> np.ndarray:
    x = np.zeros((28, 28))
    rng = np.random.default_rng(seed)
    x[6:22, 12:16] = rng.uniform(0.6, 1.0, (16, 4))  # a stroke, different per seed
    return x


def store(clock=None, **kw) -> BoardStore:
    clock = clock or Clock()
    kw.setdefault("min_gap_s", 0)
    limiter = GuessLimiter("the join code", clock=clock)
    if BACKEND["kind"] == "shared":
        return SharedBoardStore(str(BACKEND["root"]), key=KEY, clock=clock, limiter=limiter, **kw)
    return BoardStore(clock=clock, limiter=limiter, **kw)


def test_codes_are_long_enough_from_an_unambiguous_alphabet_and_typed_codes_are_forgiven():
    s = store(max_boards=50)
    codes = {s.open(f"lecturer{i}") for i in range(50)}
    assert len(codes) == 50
    for code in codes:
        assert len(code) >= 6 and len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    assert not set(ALPHABET) & set("0O1IL2Z5S8B")
    code = next(iter(codes))
    typed = f" {code[:3].lower()}-{code[3:]} "
    assert normalise_code(typed) == code
    assert s.join("student", "10.0.0.5", typed)[0] == code


def test_two_boards_never_mix():
    s = store()
    a, b = s.open("lecturer A"), s.open("lecturer B")
    da = s.send(a, "alice", digit(1), 3)
    db = s.send(b, "bob", digit(2), 7)
    assert [d.label for d in s.view(a).digits] == [3] and [d.label for d in s.view(b).digits] == [7]
    assert s.mine(a, "bob") == [] and s.mine(b, "alice") == []
    assert da.id == db.id == 1 and not s.withdraw(a, "bob", db.id)  # ids are per board: bob cannot reach board A
    assert len(s.view(a).digits) == 1
    s.clear(a)
    assert len(s.view(a).digits) == 0 and len(s.view(b).digits) == 1
    assert s.owns(a, "lecturer A") and not s.owns(a, "lecturer B")


def test_only_the_digit_label_time_and_an_anonymous_id_are_kept():
    clock = Clock(1_700_000_000.0)
    s = store(clock)
    code = s.open("lecturer")
    sender = new_sender_id()
    d = s.send(code, sender, digit(), 4)
    assert d.image.dtype == np.uint8 and d.image.shape == (28, 28) and not d.image.flags.writeable
    assert (d.label, d.sender, d.at) == (4, sender, clock.t)
    assert set(vars(d)) == {"id", "image", "label", "sender", "at"}
    assert len(sender) == 16 and sender != new_sender_id()


def test_per_session_cap_a_full_board_and_a_flood_refuse_in_plain_words_and_keep_every_digit():
    clock = Clock()
    s = store(clock, per_session=20, per_board=25, min_gap_s=1.0)
    code = s.open("lecturer")
    for i in range(20):
        s.send(code, "alice", digit(i), i % 10)
        clock.t += 1.0
    with pytest.raises(BoardError, match="20 digits, the most one person may"):
        s.send(code, "alice", digit(99), 1)
    s.send(code, "bob", digit(30), 1)
    with pytest.raises(BoardError, match="faster than the board takes"):  # a flood: the same second
        s.send(code, "bob", digit(31), 1)
    clock.t += 1.0
    for i in range(4):
        s.send(code, f"carol{i}", digit(40 + i), 2)
    with pytest.raises(BoardError, match="The board is full \\(25 digits\\)"):
        s.send(code, "dave", digit(50), 2)
    view = s.view(code)
    assert len(view.digits) == 25 and [d.id for d in view.digits] == list(range(1, 26))  # nothing dropped


@pytest.mark.parametrize("image,words", [
    (np.zeros((28, 28)), "blank"),
    (np.full((28, 28), np.nan), "missing values"),
    (np.ones((20, 20)), "28×28"),
    (np.full((28, 28), 3.0), "outside 0–1"),
    ("not a picture", "could not be read"),
])
def test_bad_digits_are_refused_in_plain_words(image, words):
    s = store()
    code = s.open("lecturer")
    with pytest.raises(BoardError, match=words):
        s.send(code, "alice", image, 1)
    assert s.view(code).digits == ()


@pytest.mark.parametrize("label", [10, -1, 3.0, True, "7"])
def test_a_label_outside_the_classes_is_refused(label):
    s = store()
    code = s.open("lecturer")
    with pytest.raises(BoardError, match="is not one of them"):
        s.send(code, "alice", digit(), label)


def test_freeze_close_and_expiry():
    clock = Clock()
    s = store(clock, expiry_s=3 * 3600)
    code = s.open("lecturer")
    s.send(code, "alice", digit(), 1)
    s.freeze(code)
    with pytest.raises(BoardError, match="paused"):
        s.send(code, "bob", digit(), 2)
    s.freeze(code, False)
    s.send(code, "bob", digit(), 2)
    s.close(code)
    with pytest.raises(BoardError, match="closed this board"):
        s.send(code, "carol", digit(), 3)
    assert len(s.view(code).digits) == 2  # closed: still readable until it expires
    clock.t += 3 * 3600 - 1
    assert s.view(code) is not None
    clock.t += 1
    assert s.view(code) is None and s.version(code) is None and s.stats() == {"boards": 0, "digits": 0}
    with pytest.raises(BoardError, match="has ended"):
        s.send(code, "alice", digit(), 1)


def test_withdraw_only_your_own():
    s = store()
    code = s.open("lecturer")
    a = s.send(code, "alice", digit(1), 1)
    b = s.send(code, "bob", digit(2), 2)
    v = s.version(code)
    assert not s.withdraw(code, "bob", a.id)
    assert s.version(code) == v
    assert s.withdraw(code, "alice", a.id)
    assert s.version(code) > v
    assert [d.id for d in s.view(code).digits] == [b.id] and s.mine(code, "alice") == []
    assert not s.withdraw(code, "alice", a.id)  # already gone


def test_hide_drops_only_that_digit():
    s = store()
    code = s.open("lecturer")
    ids = [s.send(code, f"s{i}", digit(i), i).id for i in range(5)]
    view = s.hide(code, ids[2])
    assert [d.id for d in view.digits] == [ids[0], ids[1], ids[3], ids[4]] and view.hidden == 1
    assert s.mine(code, "s2") == []


def test_wrong_codes_go_through_the_guessing_limiter():
    clock = Clock()
    s = store(clock)
    code = s.open("lecturer")
    wrong = "".join(ALPHABET[(ALPHABET.index(c) + 1) % len(ALPHABET)] for c in code)
    for _ in range(3):  # the free tries
        joined, verdict = s.join("guesser", "10.0.0.7", wrong)
        assert joined is None and verdict.checked and "not the join code" in verdict.message
    joined, verdict = s.join("guesser", "10.0.0.7", code)  # during the wait: not even checked
    assert joined is None and not verdict.checked and "wait 2 s" in verdict.message
    clock.t += 2
    assert s.join("guesser", "10.0.0.7", code)[0] == code
    assert s.join("someone else", "10.0.0.7", code)[0] == code  # the address is not locked out
    s.close(code)
    assert s.join("late", "10.0.0.8", code)[0] is None  # a closed board cannot be joined


def test_caps_on_boards_and_settings():
    s = store(max_boards=2)
    s.open("a")
    s.open("b")
    with pytest.raises(BoardError, match="2 open boards"):
        s.open("c")
    with pytest.raises(ValueError, match="per_session"):
        BoardStore(per_session=0)
    assert as_board_digit(digit()).max() > 0


def test_exports():
    s = store()
    code = s.open("lecturer")
    for i, label in enumerate([3, 7, 7]):
        s.send(code, f"s{i}", digit(i), label)
    view = s.view(code)
    rows = list(csv.reader(io.StringIO(board_csv(view, {"MLP": [3, 1, 7], "Convnet": [3, 7, 7]}))))
    assert rows[0] == ["digit", "sent_at_utc", "label", "MLP", "Convnet"]
    assert [r[2:] for r in rows[1:]] == [["3", "3", "3"], ["7", "1", "7"], ["7", "7", "7"]]
    with pytest.raises(ValueError, match="one answer of MLP per digit"):
        board_csv(view, {"MLP": [1]})
    png = cv2.imdecode(np.frombuffer(gallery_png(view), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert png.shape[1] == 10 * (28 * 3 + 6) + 6
    assert png[6:6 + 84, 6:6 + 84].max() > 100  # the first digit is drawn
