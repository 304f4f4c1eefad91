"""A guessing limiter for anything a person types to get in: the class and admin passwords today,
a class board's join code tomorrow. Pure Python (no Streamlit); the clock is a parameter, so the
tests drive it by hand.

- **Per session**: a few free tries (``free_tries``), then after each wrong one a growing wait
  (``first_wait_s``, doubling: 2 s, 4 s, 8 s … at most ``max_wait_s``). A try during the wait is
  refused without being checked (and not counted): the message says "wait N s".
- **Per client address**: only a high ceiling (``address_ceiling`` wrong tries in
  ``address_window_s``), because a school's NAT puts a whole class behind one address and one
  student must never lock out the room; past it, tries from that address wait until the oldest
  failure leaves the window.
- **Seen**: every wrong try is logged (logger ``netlens.guesses``) with the session id and the
  address, never what was typed; at most ``log_per_minute`` lines a minute, then one line saying how
  many more were not logged.
- **Bounded**: at most ``max_keys`` sessions and addresses are remembered (the idlest go first).

One call per try::

    verdict = LIMITER.attempt(session_id, address, lambda: hmac.compare_digest(typed, secret))
    if verdict.ok: ...let in...
    else: show(verdict.message)
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable

__all__ = ["GuessLimiter", "Verdict"]

LOG = logging.getLogger("netlens.guesses")


@dataclass(frozen=True)
class Verdict:
    ok: bool  # the try was checked and right
    checked: bool  # False: refused unchecked (a wait was running)
    wait_s: float  # before the next try is checked (0: at once)
    message: str | None  # one plain sentence for the person (None when ok)


@dataclass
class _Session:
    failures: int = 0
    until: float = 0.0  # no try is checked before this time
    seen: float = 0.0


def _positive(name: str, value, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value <= 0 or (
            integer and int(value) != value):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"Expected {name} as {kind} above 0; got {value!r}.")
    return value


class GuessLimiter:
    def __init__(self, what: str = "the password", *, free_tries: int = 3, first_wait_s: float = 2.0,
                 max_wait_s: float = 300.0, address_ceiling: int = 300, address_window_s: float = 600.0,
                 log_per_minute: int = 30, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic, log: logging.Logger = LOG):
        self.what = what
        self.free_tries = int(_positive("free_tries", free_tries, integer=True))
        self.first_wait_s = _positive("first_wait_s", first_wait_s)
        self.max_wait_s = max(_positive("max_wait_s", max_wait_s), self.first_wait_s)
        self.address_ceiling = int(_positive("address_ceiling", address_ceiling, integer=True))
        self.address_window_s = _positive("address_window_s", address_window_s)
        self.log_per_minute = int(_positive("log_per_minute", log_per_minute, integer=True))
        self.max_keys = int(_positive("max_keys", max_keys, integer=True))
        self.clock, self.log = clock, log
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._addresses: OrderedDict[str, deque] = OrderedDict()  # address -> times of its wrong tries
        self._log_window: deque = deque()  # times of the lines logged in the last minute
        self._unlogged = 0

    # ------------------------------------------------------------------ the one call

    def attempt(self, session: str, address: str | None, check: Callable[[], bool]) -> Verdict:
        """One try: refused unchecked while a wait runs; else ``check()`` (True: right). A wrong try
        is counted for the session and the address and logged (without what was typed)."""
        with self._lock:
            now = self.clock()
            wait, whose = self._wait(session, address, now)
            if wait > 0:
                return Verdict(False, False, wait, self._wait_text(wait, whose))
        right = bool(check())  # outside the lock: a slow check never holds up other sessions
        with self._lock:
            now = self.clock()
            if right:
                self._sessions.pop(session, None)
                return Verdict(True, True, 0.0, None)
            s = self._session(session, now)
            s.failures += 1
            if s.failures >= self.free_tries:
                s.until = now + self.wait_after(s.failures)
            if address:
                times = self._addresses.setdefault(address, deque())
                self._addresses.move_to_end(address)
                times.append(now)
                while len(times) > self.address_ceiling:
                    times.popleft()
                self._trim(self._addresses)
            self._note(session, address, s.failures, now)
            wait, whose = self._wait(session, address, now)
        if wait > 0:
            return Verdict(False, True, wait, f"That is not {self.what}. " + self._wait_text(wait, whose))
        return Verdict(False, True, 0.0, f"That is not {self.what}: check it and try again.")

    # ------------------------------------------------------------------ reading

    def wait_after(self, failures: int) -> float:
        """The wait after the ``failures``-th wrong try of a session (0 during the free tries)."""
        if failures < self.free_tries:
            return 0.0
        steps = failures - self.free_tries  # 0 for the last free try's failure: first_wait_s
        return self.max_wait_s if steps > 64 else min(self.max_wait_s, self.first_wait_s * 2 ** steps)

    def wait_s(self, session: str, address: str | None = None) -> float:
        """Seconds before this session's next try is checked (0: now)."""
        with self._lock:
            return self._wait(session, address, self.clock())[0]

    def forget(self, session: str) -> None:
        """Drop what is known of a session (it ended)."""
        with self._lock:
            self._sessions.pop(session, None)

    # ------------------------------------------------------------------ inside (lock held)

    def _session(self, session: str, now: float) -> _Session:
        s = self._sessions.get(session)
        if s is None:
            s = self._sessions[session] = _Session()
            self._trim(self._sessions)
        self._sessions.move_to_end(session)
        s.seen = now
        return s

    def _trim(self, table: OrderedDict) -> None:
        while len(table) > self.max_keys:
            table.popitem(last=False)  # the idlest

    def _wait(self, session: str, address: str | None, now: float) -> tuple[float, str]:
        s = self._sessions.get(session)
        mine = max(0.0, s.until - now) if s else 0.0
        theirs = 0.0
        times = self._addresses.get(address) if address else None
        if times:
            while times and times[0] <= now - self.address_window_s:
                times.popleft()
            if not times:
                del self._addresses[address]
            elif len(times) >= self.address_ceiling:
                theirs = times[0] + self.address_window_s - now
        return (mine, "session") if mine >= theirs else (theirs, "address")

    def _wait_text(self, wait: float, whose: str) -> str:
        n = max(1, math.ceil(wait))
        if whose == "address":
            return f"Too many wrong tries from your network: wait {n} s, then try again."
        return f"Too many wrong tries: wait {n} s, then try again."

    def _note(self, session: str, address: str | None, failures: int, now: float) -> None:
        while self._log_window and self._log_window[0] <= now - 60.0:
            self._log_window.popleft()
        if len(self._log_window) >= self.log_per_minute:
            self._unlogged += 1
            return
        self._log_window.append(now)
        more = f" ({self._unlogged} more wrong tries were not logged)" if self._unlogged else ""
        self._unlogged = 0
        self.log.warning("wrong %s: session=%s address=%s failures=%d%s", self.what.removeprefix("the "),
                         session, address or "unknown", failures, more)
