"""The class board: digits a room sends from Predict, kept in this server's memory for a lecture.

Pure Python (no Streamlit); the clock is a parameter, so the tests drive time by hand. One
:class:`BoardStore` per server holds every open board; the pages talk to it only through its
methods, which take and return plain values (a join code, a sender id, :class:`Digit` and
:class:`BoardView`), so the same interface is served by the shared store with the cluster back end
(:class:`analysis.compute.board_shared.SharedBoardStore`, which loads and saves a board in ``_board``).

What a board keeps, per digit: the 28×28 picture (uint8), the label the student meant, the time
it arrived and a random anonymous sender id (one per browser session, no name). Nothing else.

- **Join code**: ``CODE_LENGTH`` characters from ``ALPHABET`` (no 0/O, 1/I/L, 2/Z, 5/S, 8/B); typed codes
  are read case-blind, ignoring spaces and dashes. Every code someone types goes through the
  guessing limiter (:class:`analysis.compute.guesses.GuessLimiter`): a wrong code counts as a wrong try.
- **Caps**: ``per_session`` digits per sender (default 20), ``per_board`` digits per board
  (default 600), ``max_boards`` open boards per server (default 20), at most one digit per
  ``min_gap_s`` per sender (a flood). A full board refuses new digits; nothing on it is dropped.
- **Expiry**: a board and its digits are dropped ``expiry_s`` after it was opened (default 3 h).
- **Lecturer**: freeze (no new digits for now), clear (drop every digit), close (no new digits
  ever; readable and exportable until it expires), hide (moderation: a hidden digit is dropped,
  the only digit the board ever drops by itself).
- **Student**: sees and withdraws their own digits (by sender id).
"""
from __future__ import annotations

import csv
import io
import math
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator, Sequence

import numpy as np

from analysis.compute.guesses import GuessLimiter, Verdict

__all__ = ["ALPHABET", "CODE_LENGTH", "BoardError", "BoardStore", "BoardView", "Digit", "as_board_digit", "board_csv",
           "gallery_png", "new_sender_id", "normalise_code"]

ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"  # no look-alikes: no 0/O, 1/I/L, 2/Z, 5/S, 8/B
CODE_LENGTH = 6
SIDE = 28  # the digits' side in pixels (MNIST)
DIGITS = tuple(str(d) for d in range(10))
MIN_INK = 0.15  # the brightest pixel of a digit must reach this (0..1): else it is blank


class BoardError(ValueError):
    """A refusal in one plain sentence (what was wrong, what to do); shown as is."""


@dataclass(frozen=True)
class Digit:
    id: int  # unique on its board, counting from 1
    image: np.ndarray  # SIDE×SIDE uint8, read-only
    label: int  # the class the student meant (index into the board's classes)
    sender: str  # a random anonymous id, one per browser session
    at: float  # when it arrived (the store's clock)


@dataclass(frozen=True)
class BoardView:
    """One board as it is now (a copy: it never changes)."""
    code: str
    version: int  # grows with every change: a watcher redraws when it differs
    classes: tuple[str, ...]
    digits: tuple[Digit, ...]  # in order of arrival
    frozen: bool
    closed: bool
    opened_at: float
    expires_at: float
    hidden: int  # digits the lecturer hid (dropped)
    per_session: int
    per_board: int

    @property
    def state(self) -> str:
        return "closed" if self.closed else "frozen" if self.frozen else "open"


@dataclass
class _Board:
    code: str
    owner: str
    classes: tuple[str, ...]
    opened_at: float
    expires_at: float
    digits: OrderedDict = field(default_factory=OrderedDict)  # id -> Digit
    version: int = 0
    next_id: int = 1
    frozen: bool = False
    closed: bool = False
    hidden: int = 0
    last_sent: dict = field(default_factory=dict)  # sender -> time of their last digit


def new_sender_id() -> str:
    """A random anonymous id for one browser session (no name, nothing derived from the person)."""
    return secrets.token_hex(8)


def normalise_code(typed: object) -> str:
    """A typed join code as the store spells it: upper case, without spaces and dashes."""
    if not isinstance(typed, str):
        return ""
    return "".join(ch for ch in typed.upper() if ch not in " -_\t\n")[:32]


def _count(name: str, value, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise ValueError(f"Expected {name} as a number of at least {low}; got {value!r}.")
    return value


def as_board_digit(image) -> np.ndarray:
    """The 28×28 digit as the board keeps it (uint8, read-only), or a BoardError saying what is wrong."""
    try:
        x = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError):
        raise BoardError("This digit could not be read: draw or photograph it again, then send it.") from None
    if x.shape != (SIDE, SIDE):
        raise BoardError(f"The board takes a {SIDE}×{SIDE} digit (what the models read); this one is "
                         f"{'×'.join(map(str, x.shape)) or 'a single number'}: draw or photograph it again.")
    if not np.isfinite(x).all():
        raise BoardError("This digit could not be read (it has missing values): draw or photograph it again.")
    if x.max() > 1.0 + 1e-6 or x.min() < -1e-6:
        raise BoardError("This digit could not be read (values outside 0–1): draw or photograph it again.")
    if x.max() < MIN_INK:
        raise BoardError("This digit is blank: draw a digit (or photograph one), then send it.")
    out = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
    out.flags.writeable = False
    return out


class BoardStore:
    """Every open board of this server, behind one lock. See the module's docstring for the rules."""

    def __init__(self, *, limiter: GuessLimiter | None = None, expiry_s: float = 3 * 3600.0,
                 per_session: int = 20, per_board: int = 600, max_boards: int = 20, min_gap_s: float = 1.0,
                 clock: Callable[[], float] = time.time, token: Callable[[int], str] | None = None):
        self.limiter = limiter if limiter is not None else GuessLimiter("the join code", clock=clock)
        self.expiry_s = _count("expiry_s", expiry_s, 1)
        self.per_session = int(_count("per_session", per_session, 1))
        self.per_board = int(_count("per_board", per_board, 1))
        self.max_boards = int(_count("max_boards", max_boards, 1))
        self.min_gap_s = _count("min_gap_s", min_gap_s, 0)
        self.clock = clock
        self._token = token or (lambda n: "".join(secrets.choice(ALPHABET) for _ in range(n)))
        self._lock = threading.Lock()
        self._boards: dict[str, _Board] = {}

    # ------------------------------------------------------------------ the lecturer

    def open(self, owner: str, classes: Sequence[str] = DIGITS) -> str:
        """A new board owned by ``owner`` (the lecturer's session); returns its join code."""
        classes = tuple(str(c) for c in classes)
        if not 2 <= len(classes) <= 100:
            raise ValueError(f"Expected 2 to 100 classes for a board; got {len(classes)}.")
        with self._lock:
            now = self.clock()
            self._sweep(now)
            if len(self._boards) >= self.max_boards:
                raise BoardError(f"This server already has {len(self._boards)} open boards (its limit): close one "
                                 "you no longer need, or wait until one expires.")
            for _ in range(100):
                code = self._token(CODE_LENGTH)
                if code not in self._boards:
                    break
            else:  # pragma: no cover - 25^6 codes
                raise BoardError("No free join code was found: try again.")
            self._boards[code] = _Board(code, owner, classes, now, now + self.expiry_s)
            return code

    def owns(self, code: str, owner: str) -> bool:
        with self._board(code, write=False) as b:
            return b is not None and b.owner == owner

    def freeze(self, code: str, frozen: bool = True) -> BoardView:
        return self._change(code, lambda b: setattr(b, "frozen", bool(frozen)))

    def close(self, code: str) -> BoardView:
        return self._change(code, lambda b: setattr(b, "closed", True))

    def clear(self, code: str) -> BoardView:
        def drop(b: _Board) -> None:
            b.digits.clear()
            b.last_sent.clear()
        return self._change(code, drop)

    def hide(self, code: str, digit_id: int) -> BoardView:
        """Moderation: the digit is dropped from the board (and from its sender's list)."""
        def drop(b: _Board) -> None:
            if b.digits.pop(int(digit_id), None) is not None:
                b.hidden += 1
        return self._change(code, drop)

    # ------------------------------------------------------------------ a student

    def join(self, session: str, address: str | None, typed: object) -> tuple[str | None, Verdict]:
        """A typed join code, checked through the guessing limiter: (the code, the verdict).
        A wrong code (or one of a closed or expired board) is a wrong try."""
        code = normalise_code(typed)
        verdict = self.limiter.attempt(session, address, lambda: self._joinable(code))
        return (code if verdict.ok else None), verdict

    def send(self, code: str, sender: str, image, label: int) -> Digit:
        """Put one digit on the board; returns it, or raises BoardError in plain words.
        Nothing already on the board is ever dropped to make room."""
        picture = as_board_digit(image)  # before the lock: the checks cost a little
        with self._board(code) as b:
            now = self.clock()
            b = self._open_board(b)
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < len(b.classes):
                raise BoardError(f"The board's classes are {', '.join(b.classes)}; {label!r} is not one of them: "
                                 "pick which digit you meant.")
            if b.frozen:
                raise BoardError("The board is paused by the lecturer: wait until it is open again, then send.")
            mine = sum(d.sender == sender for d in b.digits.values())
            if mine >= self.per_session:
                raise BoardError(f"You have sent {mine} digits, the most one person may: withdraw one of yours to "
                                 "send another.")
            if len(b.digits) >= self.per_board:
                raise BoardError(f"The board is full ({len(b.digits)} digits): nothing more can be sent to it.")
            last = b.last_sent.get(sender)
            if last is not None and now - last < self.min_gap_s:
                raise BoardError("You are sending faster than the board takes digits: wait a second, then send "
                                 "again.")
            digit = Digit(b.next_id, picture, int(label), sender, now)
            b.next_id += 1
            b.digits[digit.id] = digit
            b.last_sent[sender] = now
            b.version += 1
            return digit

    def mine(self, code: str, sender: str) -> list[Digit]:
        with self._board(code, write=False) as b:
            return [] if b is None else [d for d in b.digits.values() if d.sender == sender]

    def withdraw(self, code: str, sender: str, digit_id: int) -> bool:
        """Drop one of ``sender``'s own digits; False when it is not theirs (or gone)."""
        with self._board(code) as b:
            d = None if b is None else b.digits.get(int(digit_id))
            if d is None or d.sender != sender:
                return False
            del b.digits[d.id]
            b.version += 1
            return True

    # ------------------------------------------------------------------ anyone with the code

    def version(self, code: str) -> int | None:
        """The board's version (cheap: for polling); None when it is gone."""
        with self._board(code, write=False) as b:
            return None if b is None else b.version

    def view(self, code: str) -> BoardView | None:
        with self._board(code, write=False) as b:
            return None if b is None else self._view_of(b)

    def _view_of(self, b: _Board) -> BoardView:
        return BoardView(b.code, b.version, b.classes, tuple(b.digits.values()), b.frozen, b.closed,
                         b.opened_at, b.expires_at, b.hidden, self.per_session, self.per_board)

    def stats(self) -> dict:
        with self._lock:
            self._sweep(self.clock())
            return {"boards": len(self._boards), "digits": sum(len(b.digits) for b in self._boards.values())}

    # ------------------------------------------------------------------ inside

    @contextmanager
    def _board(self, code: str, write: bool = True) -> Iterator[_Board | None]:
        """The live board ``code`` (None when there is none) under the lock; what is changed on it stays.
        A shared implementation (analysis.compute.board_shared) loads and saves it here."""
        with self._lock:
            yield self._live(code, self.clock())

    def _joinable(self, code: str) -> bool:
        with self._board(code, write=False) as b:
            return b is not None and not b.closed

    def _sweep(self, now: float) -> None:
        for code in [c for c, b in self._boards.items() if b.expires_at <= now]:
            del self._boards[code]

    def _live(self, code: str, now: float) -> _Board | None:
        b = self._boards.get(code) if isinstance(code, str) else None
        if b is not None and b.expires_at <= now:
            del self._boards[code]
            return None
        return b

    @staticmethod
    def _open_board(b: _Board | None) -> _Board:
        if b is None:
            raise BoardError("This board has ended (closed by the lecturer or expired): ask for the new join code.")
        if b.closed:
            raise BoardError("The lecturer closed this board: it takes no more digits.")
        return b

    def _change(self, code: str, change: Callable[[_Board], None]) -> BoardView:
        with self._board(code) as b:
            if b is None:
                raise BoardError("This board has ended (it expired): open a new one.")
            change(b)
            b.version += 1
            return self._view_of(b)


# ---------------------------------------------------------------------- exports


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def board_csv(view: BoardView, answers: dict[str, Sequence[int]]) -> str:
    """The board's digits as CSV: digit, sent at (UTC), label, then each model's answer (a class name)."""
    for name, row in answers.items():
        if len(row) != len(view.digits):
            raise ValueError(f"Expected one answer of {name} per digit ({len(view.digits)}); got {len(row)}.")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["digit", "sent_at_utc", "label", *answers])
    for i, d in enumerate(view.digits):
        w.writerow([d.id, _iso(d.at), view.classes[d.label], *(view.classes[int(a[i])] for a in answers.values())])
    return out.getvalue()


def gallery_png(view: BoardView, columns: int = 10, scale: int = 3) -> bytes:
    """Every digit of the board in one PNG, in order of arrival, its label written under it."""
    import cv2  # lazy: only the export needs it

    n = len(view.digits)
    tile, strip, gap = SIDE * scale, 22, 6
    rows = max(1, math.ceil(n / columns))
    h, w = rows * (tile + strip + gap) + gap, columns * (tile + gap) + gap
    canvas = np.full((h, w), 255, np.uint8)
    for i, d in enumerate(view.digits):
        r, c = divmod(i, columns)
        y, x = gap + r * (tile + strip + gap), gap + c * (tile + gap)
        canvas[y:y + tile, x:x + tile] = np.kron(d.image, np.ones((scale, scale), np.uint8))
        cv2.putText(canvas, view.classes[d.label], (x + tile // 2 - 6, y + tile + 17), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, 0, 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", canvas)
    if not ok:  # pragma: no cover
        raise ValueError("The gallery could not be encoded as PNG.")
    return png.tobytes()
