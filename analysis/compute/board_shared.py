"""The class board in the shared store (issue 35): with the cluster back end every app server reads and
writes the same boards, so a student on server B appears on the projector on server A. No Streamlit, no Ray.

:class:`SharedBoardStore` is :class:`analysis.compute.board.BoardStore` (the same methods, the same
rules: caps, flood gap, expiry, freeze, close, clear, hide, withdraw) with each board kept under the
store's root instead of in this process's memory::

    boards/<code>/version      {"version", "expires_at"}: the one small read a watcher makes per poll
    boards/<code>/board.json   the board: its state, its senders' last sends and its digits' id, label,
                               sender and time (no pictures)
    boards/<code>/d/<id>       one digit's 28×28 picture (784 bytes), written once, never changed
    boards/<code>/lock         the board's lock (POSIX ``lockf``: the store's mount must support locks,
                               as NFSv4 does)

- **Signed** like every store entry (issue 30): each file carries an HMAC-SHA256 made with the store's key
  and bound to its own path (``store_key.sign_bytes``), so a file cannot be planted, altered or moved to
  another board or digit. A file that fails the check is logged and read as missing (the board, or that
  digit, is not shown); nothing unsigned is ever shown.
- **Caps across servers**: every change takes the board's lock, reads the board, applies the same rules
  as the in-memory store, and writes the board back (the new file renamed into place: a reader sees the
  old board or the new one). Per-person caps and the flood gap count every server's sends.
- **Cheap to poll**: ``version(code)`` and ``view(code)`` read the small version file; ``view`` reads the
  board only when the version changed, and only the pictures it has not read before (they never change).
- **Boards per store**: ``max_boards`` counts the open boards of every server; expired boards are removed
  when a board is opened, when stats are asked for, and when someone reads them.
- The guessing limiter on join codes: a session's free tries and waits are kept by its server (a session
  lives on one server); the per-address ceiling (``limiter.address_ceiling`` wrong codes in
  ``limiter.address_window_s``) counts every server's wrong codes, in ``boards/.guesses/<sha256 of the address>``
  (signed, the times of the wrong tries in the window; never the address itself).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from analysis.compute import store_key
from analysis.compute.board import (
    ALPHABET,
    CODE_LENGTH,
    DIGITS,
    SIDE,
    BoardError,
    BoardStore,
    BoardView,
    Digit,
    _Board,
    normalise_code,
)
from analysis.compute.guesses import Verdict
from analysis.compute.store import StoreConfig

__all__ = ["SharedBoardStore"]

log = logging.getLogger(__name__)
_CACHE_DIGITS = 20_000  # pictures kept in this process (~1 KB each)
_PROCESS_LOCK = threading.Lock()  # POSIX locks belong to the process: its threads (and stores) take turns here


class SharedBoardStore(BoardStore):
    """Every board of every app server, in the shared store's folder ``boards/``. See the module's docstring."""

    def __init__(self, config: StoreConfig | str, key: bytes | None = None, **kw):
        super().__init__(**kw)
        config = config if isinstance(config, StoreConfig) else StoreConfig(root=str(config))
        self._key = key or config.key or store_key.load_key()
        self.root = Path(config.root) / "boards"
        self.root.mkdir(parents=True, exist_ok=True)
        self._pictures: OrderedDict = OrderedDict()  # (code, opened_at, id) -> read-only uint8 picture
        self._views: dict[str, BoardView] = {}  # code -> the last view read (served while the version stands)
        self._cache_lock = threading.Lock()
        self._warned: set = set()

    # ------------------------------------------------------------------ the interface's shared parts

    def open(self, owner: str, classes: Sequence[str] = DIGITS) -> str:
        classes = tuple(str(c) for c in classes)
        if not 2 <= len(classes) <= 100:
            raise ValueError(f"Expected 2 to 100 classes for a board; got {len(classes)}.")
        with _PROCESS_LOCK, _file_lock(self.root / ".open.lock"):
            now = self.clock()
            live = self._sweep_store(now)
            if live >= self.max_boards:
                raise BoardError(f"The app servers already have {live} open boards (their limit): close one "
                                 "you no longer need, or wait until one expires.")
            for _ in range(100):
                code = self._token(CODE_LENGTH)
                if set(code) <= set(ALPHABET) and not (self.root / code).exists():
                    break
            else:  # pragma: no cover - 25^6 codes
                raise BoardError("No free join code was found: try again.")
            (self.root / code / "d").mkdir(parents=True)
            self._save(_Board(code, owner, classes, now, now + self.expiry_s), set())
            return code

    def version(self, code: str) -> int | None:
        head = self._head(code)
        return None if head is None else head[0]

    def view(self, code: str) -> BoardView | None:
        """One small read while nothing changed; the board (and its new pictures) when it did."""
        head = self._head(code)
        if head is None:
            return None
        with self._cache_lock:
            cached = self._views.get(code)
        if cached is not None and cached.version == head[0] and cached.expires_at == head[1]:
            return cached
        with self._board(code, write=False) as b:
            view = None if b is None else self._view_of(b)
        if view is not None:
            with self._cache_lock:
                self._views[code] = view
                while len(self._views) > 4 * self.max_boards:
                    self._views.pop(next(iter(self._views)))
        return view

    def mine(self, code: str, sender: str) -> list[Digit]:
        view = self.view(code)
        return [] if view is None else [d for d in view.digits if d.sender == sender]

    def _joinable(self, code: str) -> bool:
        view = self.view(code)
        return view is not None and not view.closed

    def join(self, session: str, address: str | None, typed: object) -> tuple[str | None, Verdict]:
        """As BoardStore.join, with the per-address ceiling counted over every app server."""
        wait = self._address_wait(address)
        if wait > 0:
            return None, Verdict(False, False, wait, f"Too many wrong tries from your network: wait "
                                                     f"{max(1, math.ceil(wait))} s, then try again.")
        code, verdict = super().join(session, address, normalise_code(typed))
        if verdict.checked and not verdict.ok and address:
            self._address_failed(address)
        return code, verdict

    def _guesses(self, address: str) -> Path:
        return self.root / ".guesses" / hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()[:32]

    def _recent_failures(self, path: Path, now: float) -> list[float]:
        try:
            data = store_key.verify_bytes(path.read_bytes(), self._key, f"boards/.guesses/{path.name}")
            times = [float(t) for t in json.loads(data)] if data is not None else []
        except (OSError, ValueError, TypeError):
            times = []
        return [t for t in times if now - self.limiter.address_window_s < t]

    def _address_wait(self, address: str | None) -> float:
        if not address:
            return 0.0
        now = self.clock()
        times = self._recent_failures(self._guesses(address), now)
        if len(times) < self.limiter.address_ceiling:
            return 0.0
        return max(0.0, sorted(times)[-self.limiter.address_ceiling] + self.limiter.address_window_s - now)

    def _address_failed(self, address: str) -> None:
        path = self._guesses(address)
        path.parent.mkdir(exist_ok=True)
        with _PROCESS_LOCK, _file_lock(path.parent / ".lock"):
            now = self.clock()
            times = (self._recent_failures(path, now) + [now])[-self.limiter.address_ceiling:]
            tmp = path.parent / f".tmp.{uuid.uuid4().hex}"
            tmp.write_bytes(store_key.sign_bytes(json.dumps(times).encode(), self._key,
                                                 f"boards/.guesses/{path.name}"))
            os.replace(tmp, path)

    def stats(self) -> dict:
        with _PROCESS_LOCK, _file_lock(self.root / ".open.lock"):
            live = self._sweep_store(self.clock())
        digits = 0
        for folder in self.root.iterdir():
            if folder.is_dir():
                digits += sum(1 for _ in (folder / "d").glob("*"))
        return {"boards": live, "digits": digits}

    # ------------------------------------------------------------------ load and save

    @contextmanager
    def _board(self, code: str, write: bool = True) -> Iterator[_Board | None]:
        if not _valid_code(code):
            yield None
            return
        if not write:
            yield self._load(code)
            return
        folder = self.root / code
        with _PROCESS_LOCK:
            if not folder.is_dir():
                yield None
                return
            with _file_lock(folder / "lock"):
                b = self._load(code)
                before = None if b is None else (b.version, set(b.digits))
                yield b
                if b is not None and b.version != before[0]:  # only after no refusal was raised
                    self._save(b, before[1])

    def _load(self, code: str) -> _Board | None:
        raw = self._read(code, "board.json")
        if raw is None:
            return None
        try:
            s = json.loads(raw)
            b = _Board(code, str(s["owner"]), tuple(s["classes"]), float(s["opened_at"]), float(s["expires_at"]),
                       version=int(s["version"]), next_id=int(s["next_id"]), frozen=bool(s["frozen"]),
                       closed=bool(s["closed"]), hidden=int(s["hidden"]), last_sent=dict(s["last_sent"]))
            rows = [(int(i), int(label), str(sender), float(at)) for i, label, sender, at in s["digits"]]
        except (ValueError, KeyError, TypeError):
            self._warn(code, "board.json", "it is signed but not a board")
            return None
        if b.expires_at <= self.clock():
            self._remove(code)
            return None
        for i, label, sender, at in rows:
            picture = self._picture(code, b.opened_at, i)
            if picture is not None:
                b.digits[i] = Digit(i, picture, label, sender, at)
        return b

    def _picture(self, code: str, opened_at: float, i: int) -> np.ndarray | None:
        key = (code, opened_at, i)
        with self._cache_lock:
            if key in self._pictures:
                return self._pictures[key]
        raw = self._read(code, f"d/{i}")
        if raw is None or len(raw) != SIDE * SIDE:
            return None
        picture = np.frombuffer(raw, np.uint8).reshape(SIDE, SIDE)  # read-only: frombuffer of bytes
        with self._cache_lock:
            self._pictures[key] = picture
            while len(self._pictures) > _CACHE_DIGITS:
                self._pictures.popitem(last=False)
        return picture

    def _save(self, b: _Board, had: set) -> None:
        for i in set(b.digits) - had:  # new pictures first: a reader never sees a digit without its picture
            self._write(b.code, f"d/{i}", b.digits[i].image.tobytes())
            with self._cache_lock:
                self._pictures[(b.code, b.opened_at, i)] = b.digits[i].image
        state = {"owner": b.owner, "classes": list(b.classes), "opened_at": b.opened_at, "expires_at": b.expires_at,
                 "version": b.version, "next_id": b.next_id, "frozen": b.frozen, "closed": b.closed,
                 "hidden": b.hidden, "last_sent": b.last_sent,
                 "digits": [[d.id, d.label, d.sender, d.at] for d in b.digits.values()]}
        self._write(b.code, "board.json", json.dumps(state, separators=(",", ":")).encode())
        self._write(b.code, "version", json.dumps({"version": b.version, "expires_at": b.expires_at}).encode())
        for i in had - set(b.digits):  # withdrawn, hidden or cleared: dropped from the store too
            (self.root / b.code / "d" / str(i)).unlink(missing_ok=True)

    def _head(self, code: str) -> tuple[int, float] | None:
        """(version, expires_at) of a live board, from its small version file; None when it is gone."""
        raw = self._read(code, "version") if _valid_code(code) else None
        try:
            head = json.loads(raw) if raw is not None else None
            version, expires = int(head["version"]), float(head["expires_at"])
        except (ValueError, KeyError, TypeError):
            return None
        return None if expires <= self.clock() else (version, expires)

    # ------------------------------------------------------------------ files

    def _read(self, code: str, name: str) -> bytes | None:
        """A board file's data, its signature checked; None when missing or not signed with the store's key."""
        try:
            blob = (self.root / code / name).read_bytes()
        except OSError:
            return None
        data = store_key.verify_bytes(blob, self._key, f"boards/{code}/{name}")
        if data is None:
            self._warn(code, name, "it is not signed with this store's key")
        return data

    def _write(self, code: str, name: str, data: bytes) -> None:
        path = self.root / code / name
        tmp = path.parent / f".tmp.{uuid.uuid4().hex}"
        tmp.write_bytes(store_key.sign_bytes(data, self._key, f"boards/{code}/{name}"))
        os.replace(tmp, path)

    def _warn(self, code: str, name: str, why: str) -> None:
        if (code, name) not in self._warned and len(self._warned) < 1000:
            self._warned.add((code, name))
            log.warning("NetLens store: the class board file %s/%s in %s is not served: %s.", code, name, self.root,
                        why)

    def _remove(self, code: str) -> None:
        trash = self.root / f".trash.{uuid.uuid4().hex}"
        try:
            os.replace(self.root / code, trash)  # gone from view at once
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _sweep_store(self, now: float) -> int:
        """Remove the expired boards (and leftovers); how many boards are live."""
        live = 0
        for path in list((self.root / ".guesses").glob("[0-9a-f]*")):  # addresses quiet for the window
            try:
                if now - path.stat().st_mtime > self.limiter.address_window_s:
                    path.unlink(missing_ok=True)
            except OSError:
                pass
        for folder in list(self.root.iterdir()):
            if folder.name.startswith(".trash."):
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.is_dir() and _valid_code(folder.name):
                if self._head(folder.name) is None:  # expired (or not signed with the store's key)
                    self._remove(folder.name)
                else:
                    live += 1
        return live


def _valid_code(code: object) -> bool:
    return isinstance(code, str) and len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive POSIX lock on ``path`` (other app servers wait); the caller holds the process's own lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
