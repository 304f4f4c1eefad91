"""A server-wide registry of long jobs (training, t-SNE) that outlive a script run.

A Streamlit script run is interrupted by the user's next click, so long work
runs here, in worker threads owned by an imported module (imported once per
process; page scripts re-execute and must not own threads).

- ``JobRegistry.submit(key, label, fn, session_id)`` queues ``fn(job)`` under
  ``key`` (a hash of the job's full config).  If the same key is already
  queued, running or done, the session *joins* that job instead: identical
  requests share the work, and a finished result is shared read-only.
- ``job.version`` grows by one with every change a page could draw (each
  ``report()``, each status or message change): a fragment that remembers
  the version it drew can skip redrawing when nothing is new.
- ``fn`` reports through ``job.report(progress, message, latest)`` and polls
  ``job.should_stop()``; its return value becomes ``job.result``; an exception
  becomes status ``'failed'`` with ``str(e)`` as ``job.error``.
- ``detach(key, session_id)``: the session stops watching.  A queued or
  running job that no session watches any more is cancelled (a queued one
  never starts; a running one sees ``should_stop()`` become true and ends as
  ``'cancelled'``; its result is never shared).
- The registry is bounded: at most ``max_entries`` entries (the oldest
  finished ones are evicted first; queued and running ones never are) and
  finished entries older than ``max_age_s`` are dropped.

One lock guards all state; ``fn`` never runs under it.  Pure Python: no
Streamlit here.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Job", "JobRegistry", "RegistryFull", "shared_registry", "shared_registries", "drop_shared_registry",
           "ACTIVE", "FINISHED"]

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
_STATUSES = ACTIVE + FINISHED
_UNSET = object()


class RegistryFull(RuntimeError):
    """Every slot holds a queued or running job: try again when one finishes."""


@dataclass(eq=False)
class Job:
    """One unit of long work, its live progress and its outcome.

    Fields are updated by the worker (through :meth:`report`) and by the
    registry; readers (pages) only read them.  ``created`` and ``finished``
    are times on the registry's clock (``time.monotonic`` by default).
    """

    key: str
    label: str
    status: str = "queued"        # 'queued' | 'running' | 'done' | 'failed' | 'cancelled'
    progress: float = 0.0         # 0..1
    message: str = ""  # plain words: "epoch 3 of 10", "queued: 2 jobs ahead of yours"
    latest: Any = field(
        default=None, repr=False
    )  # latest intermediate payload (metrics so far, an embedding, a snapshot)
    result: Any = field(default=None, repr=False)  # fn's return value once done (kept, not shared, when cancelled)
    error: str | None = None      # plain message when failed
    created: float = 0.0
    finished: float | None = None
    started: float | None = None
    version: int = 0              # +1 on every change a reader could draw (report, status, message)
    _fn: Callable[["Job"], Any] | None = field(default=None, repr=False)
    _watchers: set = field(default_factory=set, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    def should_stop(self) -> bool:
        """True once no session watches this job any more: wind down and return."""
        return self._stop.is_set()

    def report(self, progress: float | None = None, message: str | None = None,
               latest: Any = _UNSET) -> None:
        """Publish progress (0..1), a plain message and/or the latest intermediate payload."""
        with self._lock:
            if progress is not None:
                p = float(progress)
                self.progress = 0.0 if p != p else min(1.0, max(0.0, p))
            if message is not None:
                self.message = str(message)
            if latest is not _UNSET:
                self.latest = latest
            self.version += 1

    @property
    def watchers(self) -> frozenset:
        """The sessions watching this job (a copy)."""
        with self._lock:
            return frozenset(self._watchers)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (any outcome); False on timeout."""
        return self._done.wait(timeout)


class JobRegistry:
    """Runs jobs in at most ``max_workers`` threads, one shared queue, bounded memory."""

    _names = itertools.count(1)

    def __init__(self, max_workers: int = 1, max_entries: int = 32, max_age_s: float = 6 * 3600,
                 clock: Callable[[], float] = time.monotonic, name: str | None = None):
        if int(max_workers) < 1:
            raise ValueError(f"max_workers must be at least 1; got {max_workers}.")
        if int(max_entries) < 1:
            raise ValueError(f"max_entries must be at least 1; got {max_entries}.")
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be positive; got {max_age_s}.")
        self.max_workers = int(max_workers)
        self.max_entries = int(max_entries)
        self.max_age_s = float(max_age_s)
        self.clock = clock
        self.name = name or f"jobs{next(self._names)}"
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}     # insertion-ordered: oldest first
        self._queue: deque[Job] = deque()
        self._running: set[Job] = set()     # includes superseded jobs still winding down
        self._threads = 0

    # ------------------------------------------------------------------ API

    def submit(self, key: str, label: str, fn: Callable[[Job], Any], session_id: str) -> Job:
        """Queue ``fn(job)`` under ``key``, or join the queued/running/done job with that key.

        Raises :class:`RegistryFull` when every slot holds a queued or running job.
        """
        if not callable(fn):
            raise TypeError(f"fn must be callable; got {type(fn).__name__}.")
        start_worker = False
        with self._lock:
            self._prune()
            job = self._jobs.get(key)
            if job is not None and job.status in ("queued", "running", "done") and not job._stop.is_set():
                job._watchers.add(session_id)
                return job
            if job is not None:  # failed, cancelled, or stopping: start afresh under this key
                del self._jobs[key]
            self._make_room()
            job = Job(key=key, label=label, created=self.clock(), _fn=fn, _lock=self._lock)
            job._watchers.add(session_id)
            self._jobs[key] = job
            self._queue.append(job)
            if self._threads < self.max_workers:
                self._threads += 1
                start_worker = True
            self._refresh_queue_messages()
        if start_worker:
            try:
                threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True).start()
            except RuntimeError:  # cannot start a thread: the job waits for a running worker
                with self._lock:
                    self._threads -= 1
                    if self._threads == 0:
                        raise
        return job

    def get(self, key: str) -> Job | None:
        """The job under ``key`` (live object; read it, don't modify it), or None (never, or expired)."""
        with self._lock:
            self._prune()
            return self._jobs.get(key)

    def queue_position(self, key: str) -> int:
        """Jobs ahead of this one (those running, and those queued before it); 0 when not waiting."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.status != "queued":
                return 0
            return self._position(job)

    def detach(self, key: str, session_id: str) -> None:
        """This session stops watching ``key``; a queued/running job no one watches is cancelled."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                return
            job._watchers.discard(session_id)
            if job._watchers or job.status not in ACTIVE:
                return
            job._stop.set()
            if job.status == "queued":
                try:
                    self._queue.remove(job)
                except ValueError:
                    pass
                self._finish(job, "cancelled", message="cancelled: no one was waiting for it")
                self._refresh_queue_messages()
            else:
                job.message = "stopping: no one is watching"
                job.version += 1

    def hand_over(self, old_session: str, new_session: str) -> int:
        """``new_session`` watches what ``old_session`` watched, instead of it (a reload of the same
        browser took its work over); how many jobs."""
        with self._lock:
            n = 0
            for job in self._jobs.values():
                if old_session in job._watchers:
                    job._watchers.discard(old_session)
                    job._watchers.add(new_session)
                    n += 1
            return n

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every queued job, ask running ones to stop, and wait up to `timeout` seconds
        for them (a process must not exit while a worker is inside PyTorch)."""
        with self._lock:
            while self._queue:
                self._finish(self._queue.popleft(), "cancelled", message="cancelled: the server is stopping")
            running = list(self._running)
            for job in running:
                job._stop.set()
        deadline = time.monotonic() + timeout
        for job in running:
            job._done.wait(max(0.0, deadline - time.monotonic()))

    def stats(self) -> dict:
        """Counts by status and sizes, for an admin view."""
        with self._lock:
            self._prune()
            counts = {s: 0 for s in _STATUSES}
            for job in self._jobs.values():
                counts[job.status] += 1
            counts.update(
                entries=len(self._jobs),
                max_entries=self.max_entries,
                max_workers=self.max_workers,
                busy_workers=len(self._running),
                worker_threads=self._threads,
                watchers=sum(len(j._watchers) for j in self._jobs.values()),
            )
            return counts

    def jobs(self) -> list[Job]:
        """All entries, oldest first (for an admin view)."""
        with self._lock:
            self._prune()
            return list(self._jobs.values())

    # -------------------------------------------------------------- workers

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._queue.popleft() if self._queue else None
                if job is None:
                    self._threads -= 1
                    return
                job.status = "running"
                job.started = self.clock()
                job.message = "starting"
                job.version += 1
                self._running.add(job)
                fn = job._fn
                self._refresh_queue_messages()
            status, result, error = "done", None, None
            try:
                result = fn(job)
            except Exception as e:  # the worker must survive anything fn does
                status, error = "failed", (str(e) or type(e).__name__)
                log.warning("job %s (%s) failed", job.key, job.label, exc_info=True)
            except BaseException as e:  # e.g. SystemExit raised inside fn
                status, error = "failed", (str(e) or type(e).__name__)
                log.error("job %s (%s) aborted", job.key, job.label, exc_info=True)
            with self._lock:
                self._running.discard(job)
                if job._stop.is_set():
                    status = "cancelled"
                self._finish(job, status, result=result, error=error)
                self._prune()
                self._refresh_queue_messages()

    # --------------------------------------------------- helpers (lock held)

    def _finish(self, job: Job, status: str, result: Any = None, error: str | None = None,
                message: str | None = None) -> None:
        job.status = status
        job.result = result
        job.error = error
        job.finished = self.clock()
        job._fn = None  # release the closure (data, model) early
        if status == "done":
            job.progress = 1.0
            job.message = message or "done"
        elif status == "failed":
            job.message = message or f"failed: {error}"
        else:
            job.message = message or "cancelled"
        job.version += 1
        job._done.set()

    def _position(self, job: Job) -> int:
        ahead = 0
        for other in self._queue:
            if other is job:
                break
            ahead += 1
        return max(1, ahead + len(self._running))

    def _refresh_queue_messages(self) -> None:
        for job in self._queue:
            n = self._position(job)
            message = f"queued: {n} job{'s' if n != 1 else ''} ahead of yours"
            if message != job.message:
                job.message = message
                job.version += 1

    def _prune(self) -> None:
        """Drop finished entries older than max_age_s (since they finished)."""
        now = self.clock()
        expired = [k for k, j in self._jobs.items()
                   if j.status in FINISHED and now - (j.finished if j.finished is not None else j.created)
                   > self.max_age_s]
        for k in expired:
            del self._jobs[k]

    def _make_room(self) -> None:
        """Evict the oldest finished entries until one more fits; raise if all are active."""
        while len(self._jobs) >= self.max_entries:
            finished = [j for j in self._jobs.values() if j.status in FINISHED]
            if not finished:
                raise RegistryFull(
                    f"The server is busy: {len(self._jobs)} jobs are queued or running "
                    f"(at most {self.max_entries}). Try again when one has finished."
                )
            oldest = min(finished, key=lambda j: j.finished if j.finished is not None else j.created)
            del self._jobs[oldest.key]


_shared: dict[str, JobRegistry] = {}
_shared_lock = threading.Lock()


@atexit.register
def _stop_shared_registries() -> None:
    for reg in list(_shared.values()):
        reg.shutdown()


def shared_registry(name: str, **kwargs) -> JobRegistry:
    """The process-wide registry called ``name``, created on first use with ``kwargs``.

    Later calls return the same registry and ignore ``kwargs``.
    """
    with _shared_lock:
        reg = _shared.get(name)
        if reg is None:
            kwargs.setdefault("name", name)
            reg = _shared[name] = JobRegistry(**kwargs)
        return reg


def shared_registries() -> dict[str, JobRegistry]:
    """The process-wide registries that exist so far, by name (a copy of the mapping)."""
    with _shared_lock:
        return dict(_shared)


def drop_shared_registry(name: str, timeout: float = 10.0) -> None:
    """Shut down the process-wide registry called ``name`` (if any) and forget it."""
    with _shared_lock:
        reg = _shared.pop(name, None)
    if reg is not None:
        reg.shutdown(timeout)
