"""The sweeps' own line in front of a JobRegistry, so sweeps cannot crowd out single trainings.

A sweep's runs wait here; at most ``share`` of them (server-wide, every session's sweeps
together) are queued or running in the registry at once, the rest wait their turn in this
line (first come, first served). Single trainings go straight to the registry, so they wait
behind at most ``share`` sweep runs. Identical work is still shared: a run whose key the
registry already holds joins that job.

    line = SweepLine(registry, share=1)
    line.enqueue(session, [(key, label, fn), ...])   # fn(job) as for JobRegistry.submit
    line.waiting(session)                             # keys still in line
    line.cancel(session)                              # leave the line (submitted runs: detach them)

A daemon thread moves runs from the line into the registry as slots free up (it exits when
the line is empty); ``pump()`` does one step at once. Pure Python: no Streamlit here.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

from analysis.compute.jobs import ACTIVE, Job, JobRegistry, RegistryFull

__all__ = ["SweepLine"]


class SweepLine:
    def __init__(self, registry: JobRegistry, share: int = 1, poll_s: float = 0.5):
        if isinstance(share, bool) or not isinstance(share, int) or share < 1:
            raise ValueError(f"Expected share to be a whole number >= 1 (sweep runs in the registry at once); "
                             f"got {share!r}.")
        self.registry, self.share, self.poll_s = registry, share, float(poll_s)
        self._line: deque = deque()   # (owner, key, label, fn), first come first served
        self._submitted: set[str] = set()  # keys this line put into the registry (while active)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def enqueue(self, owner: str, runs: list[tuple[str, str, Callable[[Job], Any]]]) -> None:
        """Put `owner`'s runs in line (in order); runs the registry already has done join at once."""
        with self._lock:
            for key, label, fn in runs:
                if not callable(fn):
                    raise TypeError(f"fn must be callable; got {type(fn).__name__}.")
                self._line.append((owner, str(key), str(label), fn))
        self.pump()
        self._ensure_thread()

    def active(self) -> int:
        """Sweep runs queued or running in the registry now."""
        with self._lock:
            return self._active_locked()

    def _active_locked(self) -> int:
        alive = set()
        for key in self._submitted:
            job = self.registry.get(key)
            if job is not None and job.status in ACTIVE:
                alive.add(key)
        self._submitted = alive
        return len(alive)

    def pump(self) -> list[Job]:
        """Move runs into the registry while fewer than `share` sweep runs are active there; runs
        whose result the registry already has are joined without taking a slot. Returns the jobs."""
        out = []
        with self._lock:
            while self._line:
                owner, key, label, fn = self._line[0]
                existing = self.registry.get(key)
                shared = existing is not None and existing.status in ("done",) + ACTIVE
                if not shared and self._active_locked() >= self.share:
                    break
                try:
                    job = self.registry.submit(key, label, fn, owner)
                except RegistryFull:
                    break  # the registry is full: try again on the next pump
                self._line.popleft()
                if job.status in ACTIVE:
                    self._submitted.add(key)
                out.append(job)
        return out

    def waiting(self, owner: str | None = None) -> list[str]:
        """Keys still in line (of `owner`, or everyone's), in order."""
        with self._lock:
            return [key for o, key, _, _ in self._line if owner is None or o == owner]

    def place(self, key: str) -> int:
        """1 for the first in line, …; 0 when `key` is not in line."""
        with self._lock:
            for i, (_, k, _, _) in enumerate(self._line):
                if k == key:
                    return i + 1
        return 0

    def cancel(self, owner: str, keys: list[str] | None = None) -> None:
        """`owner` leaves the line; it stops watching its submitted runs among `keys` too."""
        with self._lock:
            self._line = deque(entry for entry in self._line if entry[0] != owner)
        for key in keys or ():
            self.registry.detach(key, owner)

    def hand_over(self, old_owner: str, new_owner: str) -> None:
        """`new_owner`'s runs are `old_owner`'s still in line, in their places (a reload took its work over)."""
        with self._lock:
            self._line = deque((new_owner if o == old_owner else o, k, label, fn) for o, k, label, fn in self._line)

    def _ensure_thread(self) -> None:
        with self._lock:
            if not self._line or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._loop, name="sweep-line", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        stop = threading.Event()
        while True:
            with self._lock:
                if not self._line:
                    self._thread = None
                    return
            self.pump()
            stop.wait(self.poll_s)
