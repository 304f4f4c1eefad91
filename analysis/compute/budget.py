"""A server-wide memory budget: heavy work is admitted against an estimate of its bytes.

Before a big decode or filter, a training or a map starts, its caller reserves the
bytes it will need (the estimators below); they are given back when the work ends,
even when it fails. Work that does not fit yet waits in a fair line (first come,
first served: a small request never overtakes a big one ahead of it, so nothing
starves) and can show its place; only work bigger than the whole budget is refused,
with :class:`NeverFits` ("This needs more memory than the server has; …").
Admission is by estimate, not by polling the process's RSS: glibc rarely gives
freed memory back to the system, so RSS says little about what is free.

- ``with budget.reserve(nbytes, holder, label): ...`` blocks until admitted
  (a job thread); ``on_wait(place)`` hears its place in line, ``should_stop()``
  ends the wait early (:class:`WaitCancelled`).
- ``budget.try_reserve(...)`` never blocks (a page's script run): it returns a
  :class:`Ticket` that is either granted or waiting; the page keeps it, asks
  ``budget.position(ticket)`` on each rerun (0: granted, go; k: k-th in line)
  and does the work inside ``with ticket:``. A ticket nobody asks about for
  ``ticket_ttl_s`` (the session went away) leaves the line, or gives its bytes back.
- ``stats()`` for /admin: the total, what is reserved, who holds what since when,
  and who waits.

Pure Python (no Streamlit, no torch).
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

__all__ = ["MemoryBudget", "Ticket", "NeverFits", "WaitCancelled", "WaitTimeout", "default_total_bytes",
           "host_memory_bytes", "cgroup_limit_bytes", "image_decode_bytes", "convolution_bytes",
           "training_bytes", "map_bytes", "MB"]

MB = 1024 * 1024
ENV = "NETLENS_MEMORY_MB"
CGROUP_V2 = "/sys/fs/cgroup/memory.max"
CGROUP_V1 = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
MEMINFO = "/proc/meminfo"
SERVER_MARGIN_BYTES = 1024 * MB  # the server and its worker at rest: torch imported, default models and maps kept
MIN_BUDGET_BYTES = 256 * MB      # never less than this, however small the host
UNKNOWN_HOST_BYTES = 2048 * MB   # when neither the cgroup nor /proc/meminfo can be read
NO_LIMIT = 1 << 60               # cgroup v1 writes "no limit" as a huge number (9223372036854771712)
TICKET_TTL_S = 30.0              # a page's ticket nobody asked about for this long is dropped


class NeverFits(ValueError):
    """The work needs more memory than the whole budget: it could never start."""


class WaitCancelled(RuntimeError):
    """``should_stop()`` became true while the reservation waited in line."""


class WaitTimeout(TimeoutError):
    """The reservation waited longer than its ``timeout``."""


# ---------------------------------------------------------------- how much memory there is

def _read(path) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_limit_bytes(v2_path=CGROUP_V2, v1_path=CGROUP_V1) -> int | None:
    """The container's memory limit: cgroup v2 ``memory.max``, else v1 ``memory.limit_in_bytes``;
    None when there is none ("max", v1's huge number) or neither file is readable."""
    for path in (v2_path, v1_path):
        text = _read(path)
        if text is None:
            continue
        if text == "max":
            return None
        try:
            value = int(text)
        except ValueError:
            continue
        return value if 0 < value < NO_LIMIT else None
    return None


def meminfo_total_bytes(path=MEMINFO) -> int | None:
    """MemTotal from /proc/meminfo (the machine's memory), or None."""
    text = _read(path)
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            try:
                return int(parts[1]) * (1024 if parts[-1].lower() == "kb" else 1)
            except (IndexError, ValueError):
                return None
    return None


def host_memory_bytes(v2_path=CGROUP_V2, v1_path=CGROUP_V1, meminfo_path=MEMINFO) -> int:
    """The memory this server may use: the smaller of the cgroup limit and the machine's memory."""
    found = [b for b in (cgroup_limit_bytes(v2_path, v1_path), meminfo_total_bytes(meminfo_path)) if b]
    return min(found) if found else UNKNOWN_HOST_BYTES


def default_total_bytes(env: Mapping[str, str] | None = None, v2_path=CGROUP_V2, v1_path=CGROUP_V1,
                        meminfo_path=MEMINFO, margin_bytes: int = SERVER_MARGIN_BYTES) -> int:
    """The budget for heavy work: ``NETLENS_MEMORY_MB`` megabytes when set, else the host's memory
    (cgroup limit or MemTotal) minus ``margin_bytes`` for the server itself (at least MIN_BUDGET_BYTES)."""
    env = os.environ if env is None else env
    raw = str(env.get(ENV, "")).strip()
    if raw:
        try:
            mb = float(raw)
        except ValueError:
            mb = float("nan")
        if not mb > 0:
            raise ValueError(f"{ENV} must be a positive number of megabytes (e.g. 1500); got {raw!r}. "
                             "Fix it or unset it to use the container's limit.")
        return int(mb * MB)
    return max(MIN_BUDGET_BYTES, host_memory_bytes(v2_path, v1_path, meminfo_path) - int(margin_bytes))


# ---------------------------------------------------------------- estimators (bytes)

def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise ValueError(f"Expected {name} as a number of at least 0; got {value!r}.")
    return int(value)


def image_decode_bytes(width: int, height: int, channels: int = 3) -> int:
    """Decoding a W×H photo: the uint8 pixels plus a float32 working copy (5 bytes a sample)."""
    n = _positive("width", width) * _positive("height", height) * max(1, _positive("channels", channels))
    return n * (1 + 4)


def convolution_bytes(width: int, height: int, channels: int = 3) -> int:
    """Filtering a W×H image: a float32 input copy, the float32 output, one float32 intermediate
    (two-pass filters, clipping) and the uint8 picture shown (13 bytes a sample)."""
    n = _positive("width", width) * _positive("height", height) * max(1, _positive("channels", channels))
    return n * (4 + 4 + 4 + 1)


TRAINING_OVERHEAD_BYTES = 48 * MB  # allocator slack, autograd bookkeeping, the pickled result


def training_bytes(n_images: int, image_shape: tuple[int, int], n_parameters: int, *, batch_size: int = 64,
                   optimizer: str = "adam", hidden_floats_per_image: int = 0, snapshots: int = 3) -> int:
    """A training run: the dataset (float32) plus its train/validation tensors, the model with its
    gradients and optimizer state, the per-epoch weight snapshots in flight (worker copy, pickled
    bytes, the parent's copy), and the activations of a training batch and an evaluation batch."""
    n, p = _positive("n_images", n_images), _positive("n_parameters", n_parameters)
    pixels = int(image_shape[0]) * int(image_shape[1])
    data = n * (pixels * 4 + 8) * 2           # the dataset, and its tensors (train + validation ≈ 80%, rounded up)
    per_param = 1 + 1 + (2 if optimizer == "adam" else 1)  # weights, gradients, moments (SGD: a buffer at most)
    model = p * 4 * (per_param + _positive("snapshots", snapshots))
    width = pixels + _positive("hidden_floats_per_image", hidden_floats_per_image)
    activations = _positive("batch_size", batch_size) * width * 4 * 3 + 1024 * width * 4
    return data + model + activations + TRAINING_OVERHEAD_BYTES


MAP_METRIC_SAMPLE = 2_000  # the separation metrics use at most this many points (O(m²) memory)


def map_bytes(n_points: int, n_features: int, *, method: str = "tsne", perplexity: float = 30.0,
              metric_sample: int = MAP_METRIC_SAMPLE) -> int:
    """A map of n points × d features: the features (the parent's array, the pickled bytes, the
    worker's copy and a float64 copy), the 50-D PCA reduction, t-SNE's neighbour affinities
    (3 × perplexity neighbours a point, before and after symmetrising) or, for "tsne-exact", the
    n × n matrices, and the separation metrics on a sample of m points (a few m × m float64 arrays)."""
    n, d = _positive("n_points", n_points), max(1, _positive("n_features", n_features))
    if method not in ("tsne", "pca", "tsne-exact"):
        raise ValueError(f"Expected method 'tsne', 'pca' or 'tsne-exact'; got {method!r}.")
    features = n * d * (4 * 3 + 8)
    reduced = n * min(d, 50) * 8 * 2
    if method == "pca":
        work = n * d * 8 * 2
    elif method == "tsne-exact":
        work = n * n * 32
    else:
        k = min(max(1, n - 1), int(3 * float(perplexity)) + 1)
        work = n * k * (8 + 8) * 3 + n * 2 * 8 * 6
    m = min(n, _positive("metric_sample", metric_sample))
    return features + reduced + work + m * m * 8 * 4


# ---------------------------------------------------------------- the budget

@dataclass(eq=False)
class Ticket:
    """One reservation: waiting in line, granted (holding its bytes) or released."""
    nbytes: int
    holder: str                  # who asked (a session id, "server")
    label: str                   # what for, in plain words ("decoding a 4000×3000 photo")
    since: float                 # wall-clock time it joined (time.time())
    state: str = "waiting"       # 'waiting' | 'granted' | 'released'
    granted_at: float | None = None
    _budget: "MemoryBudget | None" = field(default=None, repr=False)
    _lease: bool = field(default=False, repr=False)   # a page's ticket: dropped when nobody asks about it
    _in_use: bool = field(default=False, repr=False)  # work is running inside `with ticket:`
    _seen: float = field(default=0.0, repr=False)

    @property
    def granted(self) -> bool:
        return self.state == "granted"

    def release(self) -> None:
        """Give the bytes back (or leave the line). Safe to call twice."""
        if self._budget is not None:
            self._budget.release(self)

    def __enter__(self) -> "Ticket":
        if self._budget is None or not self._budget._claim(self):
            raise RuntimeError("This reservation is not granted: wait until position(ticket) is 0.")
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class MemoryBudget:
    """``total_bytes`` of heavy work at a time, admitted first come, first served."""

    def __init__(self, total_bytes: int | None = None, *, ticket_ttl_s: float = TICKET_TTL_S,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time):
        total = default_total_bytes() if total_bytes is None else total_bytes
        if isinstance(total, bool) or not isinstance(total, (int, float)) or not total > 0:
            raise ValueError(f"Expected total_bytes above 0 (e.g. 1500 * MB); got {total_bytes!r}.")
        if not ticket_ttl_s > 0:
            raise ValueError(f"Expected ticket_ttl_s above 0 seconds; got {ticket_ttl_s!r}.")
        self.total_bytes = int(total)
        self.ticket_ttl_s = float(ticket_ttl_s)
        self._clock, self._wall = clock, wall_clock
        self._cond = threading.Condition(threading.RLock())
        self._line: deque[Ticket] = deque()
        self._held: list[Ticket] = []
        self._reserved = 0

    # ---------------------------------------------------------------- API

    @contextmanager
    def reserve(self, nbytes: int, holder: str, label: str, *, hint: str = "try a smaller photo",
                timeout: float | None = None, on_wait: Callable[[int], None] | None = None,
                should_stop: Callable[[], bool] | None = None, poll_s: float = 0.2) -> Iterator[Ticket]:
        """Wait in line until ``nbytes`` fit, hold them for the ``with`` block, give them back after
        (exceptions included). ``on_wait(place)`` is called whenever the place in line changes
        (1: next); raises NeverFits, WaitCancelled (should_stop() true), WaitTimeout."""
        ticket = self._join(nbytes, holder, label, hint, lease=False)
        try:
            self._wait(ticket, timeout, on_wait, should_stop, poll_s)
            yield ticket
        finally:
            self.release(ticket)

    def try_reserve(self, nbytes: int, holder: str, label: str, *, hint: str = "try a smaller photo") -> Ticket:
        """Join the line without blocking: the ticket is granted now, or waits (ask ``position``).
        Use it as ``with ticket:`` once granted; release it if the work is abandoned."""
        return self._join(nbytes, holder, label, hint, lease=True)

    def position(self, ticket: Ticket) -> int | None:
        """0 when granted (go), k when k-th in line (1: next), None when released or expired.
        Asking keeps a page's ticket alive."""
        with self._cond:
            self._expire()
            ticket._seen = self._clock()
            if ticket.state == "granted":
                return 0
            if ticket.state == "waiting":
                return self._line.index(ticket) + 1
            return None

    def release(self, ticket: Ticket) -> None:
        """Give a ticket's bytes back, or take it out of the line. Idempotent."""
        with self._cond:
            if ticket.state == "waiting":
                try:
                    self._line.remove(ticket)
                except ValueError:
                    pass
            elif ticket.state == "granted":
                self._held.remove(ticket)
                self._reserved -= ticket.nbytes
            ticket.state = "released"
            ticket._in_use = False
            self._grant()

    @property
    def reserved_bytes(self) -> int:
        with self._cond:
            self._expire()
            return self._reserved

    def stats(self) -> dict:
        """For /admin: total, reserved and free bytes; holders and waiting (who, what, bytes, since)."""
        with self._cond:
            self._expire()
            now = self._wall()

            def row(t: Ticket, **extra) -> dict:
                return {"holder": t.holder, "label": t.label, "bytes": t.nbytes, "since": t.since,
                        "seconds": round(now - t.since, 1), **extra}

            return {"total_bytes": self.total_bytes, "reserved_bytes": self._reserved,
                    "free_bytes": self.total_bytes - self._reserved,
                    "holders": [row(t, granted_at=t.granted_at) for t in self._held],
                    "waiting": [row(t, position=i + 1) for i, t in enumerate(self._line)]}

    # ---------------------------------------------------------------- internals

    def _join(self, nbytes, holder: str, label: str, hint: str, lease: bool) -> Ticket:
        n = _positive("nbytes", nbytes)
        if n > self.total_bytes:
            raise NeverFits(f"This needs more memory than the server has; {hint} ({label}: about "
                            f"{-(-n // MB):,} MB, the server's budget for such work is {self.total_bytes // MB:,} MB).")
        with self._cond:
            self._expire()
            ticket = Ticket(n, str(holder), str(label), self._wall(), _budget=self, _lease=lease, _seen=self._clock())
            self._line.append(ticket)
            self._grant()
            return ticket

    def _wait(self, ticket: Ticket, timeout, on_wait, should_stop, poll_s: float) -> None:
        deadline = None if timeout is None else self._clock() + float(timeout)
        shown = None
        while True:
            with self._cond:
                self._expire()  # a forgotten page ticket ahead must not hold this line forever
                if ticket.state == "granted":
                    ticket._in_use = True
                    return
                place = self._line.index(ticket) + 1
            if should_stop is not None and should_stop():
                raise WaitCancelled(f"Stopped while waiting for memory ({ticket.label}).")
            if deadline is not None and self._clock() >= deadline:
                raise WaitTimeout(f"Waited {timeout:g} s for memory ({ticket.label}); place {place} in line.")
            if on_wait is not None and place != shown:
                on_wait(place)
                shown = place
            with self._cond:
                if ticket.state == "waiting":
                    self._cond.wait(poll_s)

    def _claim(self, ticket: Ticket) -> bool:
        with self._cond:
            if ticket.state != "granted":
                return False
            ticket._in_use = True
            return True

    def _grant(self) -> None:
        """Admit tickets from the head of the line while they fit; wake the waiters (lock held)."""
        while self._line and self._line[0].nbytes <= self.total_bytes - self._reserved:
            t = self._line.popleft()
            t.state, t.granted_at, t._seen = "granted", self._wall(), self._clock()
            self._held.append(t)
            self._reserved += t.nbytes
        self._cond.notify_all()  # places in line may have changed too

    def _expire(self) -> None:
        """Drop page tickets nobody asked about for ticket_ttl_s (lock held)."""
        now = self._clock()
        stale = [t for t in list(self._line) + self._held
                 if t._lease and not t._in_use and now - t._seen > self.ticket_ttl_s]
        for t in stale:
            self.release(t)
