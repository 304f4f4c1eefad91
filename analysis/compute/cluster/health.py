"""Is the cluster back end usable? Its settings (checked once, at the server's start) and whether
the Ray head answers (checked at most every ``CHECK_EVERY_S``, cached). No Streamlit, no Ray here.

- ``settings_problems(env)``: every wrong setting of the cluster back end, each a plain message
  (what was expected, what came, how to fix it): ``NETLENS_RAY_ADDRESS`` malformed or not
  http(s), or without a token (NETLENS_RAY_TOKEN) unless NETLENS_RAY_INSECURE=1; ``NETLENS_STORE``
  unset, missing, not writable or full (``NETLENS_STORE_MB`` reached after retention, or under
  ``MIN_FREE_MB`` free on its disk); no store key (NETLENS_STORE_KEY_FILE or NETLENS_STORE_KEY,
  analysis.compute.store_key) or an unreadable one; a malformed number.
- ``ClusterHealth(address, headers).check()``: GET ``<address>/api/version`` with a short timeout
  (the token travels in ``headers``), cached for ``CHECK_EVERY_S``; a request that fails in
  between marks it down at once (``mark_down``). Three answers: up; *not answering* (connection
  refused, timeout, not a Ray dashboard: jobs wait, checking again every 10 s); *refused* (HTTP 401
  or 403: the head wants a token this server lacks or has wrong: waiting does not help, jobs fail
  with the message).
- ``Unconfigured(local, message)``: the executor interface when a setting is wrong: trainings and
  maps fail with the message (the pages show it with Retry), the other tasks run on ``local``.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from analysis.compute import workers
from analysis.compute.cluster.config import ClusterConfig
from analysis.compute.store import Store, StoreConfig

__all__ = ["CHECK_EVERY_S", "MIN_FREE_MB", "ClusterDown", "ClusterHealth", "Health", "Unconfigured", "overview",
           "settings_problems", "store_problem"]

CHECK_EVERY_S = 10.0   # how often a head that is down (or up) is asked again
MIN_FREE_MB = 100.0    # less free space on the store's disk than this: the store is full
CLUSTER_TASKS = ("train", "project", "replay")  # the tasks that run on the cluster (analysis.compute.cluster.executor)


class ClusterDown(ConnectionError):
    """The cluster does not answer (or refuses this server's token): its plain message."""


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str = ""     # why not, in plain words ("" when ok)
    refused: bool = False  # the head answered and refused the token: waiting will not help
    checked: float = 0.0   # time.monotonic() of the check


def not_answering(address: str, why: str = "") -> str:
    return (f"The cluster at {address} is not answering; trying again every {CHECK_EVERY_S:.0f} s"
            f"{f' ({why})' if why else ''}. Trainings and maps wait until it answers; Convolution and Glossary "
            "work meanwhile.")


class ClusterHealth:
    """Whether the head at ``address`` answers, asked at most every ``every_s`` seconds."""

    def __init__(self, address: str, headers: dict | None = None, every_s: float = CHECK_EVERY_S,
                 timeout_s: float = 3.0):
        self.address, self.headers, self.every_s, self.timeout_s = address, dict(headers or {}), every_s, timeout_s
        self._state: Health | None = None
        self._lock = threading.Lock()

    def check(self, force: bool = False) -> Health:
        """The cached answer, asked again when older than ``every_s``. While one thread asks, the
        others get the previous answer at once (a page never waits behind a slow head)."""
        state = self._state
        if state is not None and not force and time.monotonic() - state.checked < self.every_s:
            return state
        if not self._lock.acquire(blocking=state is None or force):
            return state
        try:
            self._state = self._probe()
            return self._state
        finally:
            self._lock.release()

    def mark_down(self, error: BaseException | str) -> Health:
        """A request to the head just failed: down now (asked again in ``every_s``)."""
        self._state = Health(False, not_answering(self.address, _short(error)), checked=time.monotonic())
        return self._state

    def _probe(self) -> Health:
        now = time.monotonic()
        request = urllib.request.Request(f"{self.address}/api/version", headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as r:
                body = r.read(2000)
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                return Health(False, refused_message(self.address, e.code, bool(self.headers)), True, now)
            return Health(False, not_answering(self.address, f"HTTP {e.code} at /api/version: is it the Ray head's "
                                               "dashboard address, port 8265 by default?"), checked=now)
        except (OSError, ValueError) as e:
            return Health(False, not_answering(self.address, _short(e)), checked=now)
        if b"ray_version" not in body:
            return Health(False, not_answering(self.address, "it answers, but not as a Ray dashboard: check "
                                               "NETLENS_RAY_ADDRESS"), checked=now)
        return Health(True, checked=now)


def refused_message(address: str, code: int, has_token: bool) -> str:
    why = ("it wants a token and this server has none" if not has_token else
           "it is not the token the head was started with" if code == 403 else "the head did not accept it")
    return (f"The cluster at {address} refused this server's token: {why} (HTTP {code}). Set NETLENS_RAY_TOKEN "
            "to the head's token (its RAY_AUTH_TOKEN) and restart this app server.")


def _short(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error[:200]
    reason = getattr(error, "reason", None)
    text = str(reason if reason is not None else error).strip().splitlines()
    return (text[-1] if text else type(error).__name__)[:200]


# ---------------------------------------------------------------- settings, at the server's start


def settings_problems(env=None) -> list[str]:
    """Every wrong setting of the cluster back end (empty: all fine). Creates the store's folders."""

    env = os.environ if env is None else env
    problems = []
    for make in (ClusterConfig.from_env, StoreConfig.from_env):
        try:
            config = make(env)
        except ValueError as e:
            problems.append(str(e))
            continue
        if isinstance(config, StoreConfig):
            problem = store_problem(config)
            if problem:
                problems.append(problem)
    return problems


def store_problem(config) -> str | None:
    """None when the store is a writable folder with room; else what is wrong and how to fix it.
    The folder itself is created when its parent exists (a typo in the path is not)."""
    root = Path(config.root)
    fix = "Fix it and restart the app server (the pages that do not train work meanwhile)."
    if not root.is_dir():
        if root.exists() or not root.parent.is_dir():
            return (f"NETLENS_STORE is {str(root)!r}: expected a folder every app server and cluster node mounts, "
                    f"but {'it is not a folder' if root.exists() else 'it does not exist'}. {fix}")
    probe = root / "tmp" / f"write-check.{uuid.uuid4().hex}"
    try:
        for sub in ("results", "live", "data", "leases", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"netlens")
        probe.unlink()
    except OSError as e:
        return (f"The store NETLENS_STORE={str(root)!r} is not writable by this server (user id {os.geteuid()}): "
                f"{e.strerror or e}. Give this server write access to it (and every cluster node). {fix}")
    free_mb = shutil.disk_usage(root).free / 1e6
    if free_mb < MIN_FREE_MB:
        return (f"The store NETLENS_STORE={str(root)!r} is full: its disk has {free_mb:.0f} MB free (at least "
                f"{MIN_FREE_MB:.0f} MB expected). Free space there. {fix}")
    if config.max_mb is not None:

        store = Store(config)
        store.clean()  # retention first: the oldest results go
        used = store.size_mb()
        if used >= config.max_mb:
            return (f"The store NETLENS_STORE={str(root)!r} is full: {used:.1f} MB in use after retention, "
                    f"NETLENS_STORE_MB={config.max_mb:g}. Raise NETLENS_STORE_MB or free space there. {fix}")
    return None


def overview(ex) -> dict:
    """For /admin, cached ``CHECK_EVERY_S`` on the RayExecutor ``ex``: the back end, the cluster's
    address, whether it answers (or why not), its jobs by state (Ray's list_jobs) and the store's size."""
    now = time.monotonic()
    cached = getattr(ex, "_overview", None)
    if cached is not None and now - cached[0] < CHECK_EVERY_S:
        return cached[1]
    health = ex.health.check()
    out = {"backend": "Ray", "address": ex.config.address, "answers": health.ok, "message": health.message,
           "jobs": {}, "jobs_error": None, "store": str(ex.store.root), "submitted": len(ex.submitted),
           "insecure": bool(getattr(ex.config, "insecure", False))}
    if health.ok:
        try:
            for job in ex.client().list_jobs():
                state = str(getattr(job.status, "value", job.status))
                out["jobs"][state] = out["jobs"].get(state, 0) + 1
        except Exception as e:  # noqa: BLE001 - shown on the page, never raised there
            out["jobs_error"] = _short(e)
    try:
        out["store_mb"] = ex.store.size_mb()
        out["store_entries"] = sum(1 for _ in (ex.store.root / "results").iterdir())
    except OSError as e:
        out["store_mb"], out["store_entries"], out["store_error"] = None, None, _short(e)
    ex._overview = (now, out)
    return out


class Unconfigured:
    """The executor interface when the cluster back end's settings are wrong: its jobs fail with
    the message; the tasks that run on this machine run on ``local``."""

    def __init__(self, local, message: str):

        self.local, self.message, self.tasks = local, message, dict(workers.DEFAULT_TASKS)

    def runs_remotely(self, task: str) -> bool:
        return task in CLUSTER_TASKS

    def run(self, task, kwargs=None, on_progress=None, should_stop=None, should_finish=None):
        if task in CLUSTER_TASKS:
            raise RuntimeError(self.message)
        return self.local.run(task, kwargs, on_progress, should_stop, should_finish)

    def shutdown(self, timeout: float = 5.0) -> None:
        self.local.shutdown(timeout)

    def stats(self) -> dict:
        out = {"max_workers": 0, "threads_per_worker": None, "workers": [], "waiting": 0, "started_total": 0}
        if hasattr(self.local, "stats"):
            out.update(self.local.stats())
        return out

    def pids(self) -> list[int]:
        return self.local.pids() if hasattr(self.local, "pids") else []
