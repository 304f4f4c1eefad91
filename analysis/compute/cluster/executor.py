"""The cluster back end: trainings and maps as Ray Jobs, shared by every app server.

``RayExecutor(config, store).run(task, kwargs, on_progress, should_stop)`` is the same interface
as analysis.compute.workers.ProcessExecutor (``tasks``, ``run``, ``shutdown``), so pages do not know which
back end runs their jobs; dashboard/core/server.py picks this one when ``NETLENS_RAY_ADDRESS`` is set.

- App servers never call ``ray.init``: they submit and watch Ray Jobs over HTTP with
  ``ray.job_submission.JobSubmissionClient`` (``ray`` is imported only when this executor is made).
- ``train``, ``project`` and ``replay`` run on the cluster as the project's own command lines
  (``python -m analysis.train --config JSON``, ``python -m analysis.compute.cluster.maps [--replay] --config JSON``;
  every argument from a validated config object, each shell-quoted; no user text). A user's data,
  a map's features and a training's recording reach the cluster by content hash in the store.
  Other tasks (count) run on the local executor given (``local``).
- The job key (the Ray ``submission_id``) is a hash of the full settings, the code version (the
  ``analysis`` package's source) and the data version. The store is read first (finished work is
  reused across servers and restarts). Ray refuses a second submission with an existing ID: then
  ``get_job_info`` confirms it and this server *joins* it; a job that failed or stopped is retried
  under ``<key>-2``, ``<key>-3``, … (Ray never reuses an ID).
- The head is contacted only when it answers (analysis.compute.cluster.health: GET /api/version, re-checked
  every 10 s): while it does not, a job waits, its message saying so ("the cluster at … is not
  answering; trying again every 10 s"), and goes on by itself when it answers again (a job that
  was running is joined, or submitted again when the head lost it); a head that refuses this
  server's token fails the job with that message (waiting would not help).
- While a session watches, this server renews its lease in the store every poll; when its last
  watcher stops it drops the lease, and if no server's lease is fresh it stops the job at once
  (the job also stops itself when no lease is fresher than 30 s: analysis.compute.cluster.job).
- Progress: the job's JSON lines, read from its logs every ``poll_s`` (1 s), relayed to
  ``on_progress``; while Ray has not started it, the message says where it waits; past
  ``pending_limit_s`` (Ray's 15 min start timeout) it fails with a plain message.

No Streamlit here.
"""
from __future__ import annotations

import json
import os
import shlex
import threading
import time
import uuid
from typing import Any, Callable

from analysis.compute import workers
from analysis.compute.cluster import plans as cluster_plans
from analysis.compute.cluster.config import (
    ADDRESS_ENV,
    PACKAGE,
    VERSION_EXIT,
    ClusterConfig,
    Plan,
    code_version,
    prepare_ray_env,
    version_mismatch,
)
from analysis.compute.cluster.health import CLUSTER_TASKS, ClusterDown, ClusterHealth
from analysis.compute.cluster.job import FINISH, STOPPED_EXIT
from analysis.compute.store import Store
from analysis.compute.store_key import KEY_FILE_ENV, key_file_path

__all__ = ["ClusterConfig", "RayExecutor", "CLUSTER_TASKS", "ADDRESS_ENV", "prepare_ray_env", "code_version"]

WHAT = {"train": "training", "project": "map", "replay": "replay"}


class RayExecutor:
    """The executor interface (``tasks``, ``run``, ``shutdown``) over a Ray cluster and a shared store."""

    def __init__(self, config: ClusterConfig, store: Store, local=None, client=None):
        self.config, self.store, self.local = config, store, local
        self.tasks = dict(workers.DEFAULT_TASKS)
        self.server_id = f"server-{uuid.uuid4().hex[:12]}"  # this app server's lease files
        self._headers = prepare_ray_env()
        if client is None:  # imported now, at the server's start (~2 s), not in the middle of the first job
            import ray.job_submission  # noqa: F401
            import ray.util.state  # noqa: F401
        self._client, self._lock = client, threading.Lock()
        self.health = ClusterHealth(config.address, self._headers)
        self._gpus: tuple[float, float] | None = None  # (checked at, GPUs in the cluster)
        self._cleaned = 0.0
        self.submitted: list[str] = []  # submission ids this executor submitted (for /admin and tests)

    # ---------------------------------------------------------------- the interface

    def runs_remotely(self, task: str) -> bool:
        return task in CLUSTER_TASKS

    def run(self, task: str, kwargs: dict | None = None, on_progress: Callable[..., None] | None = None,
            should_stop: Callable[[], bool] | None = None, should_finish: Callable[[], bool] | None = None) -> Any:
        """``should_finish()`` true: end the job with what it has as its (complete) result — a replay's
        frames so far; asked of the job through the store (live/<key>/finish), the result then shared."""
        workers.check_task(task, self.tasks)
        if task not in CLUSTER_TASKS:
            if self.local is None:
                raise RuntimeError(f"The task {task!r} runs on this machine, and this server has no local executor.")
            return self.local.run(task, kwargs, on_progress, should_stop, should_finish)

        plans = {"train": cluster_plans.train_plan, "project": cluster_plans.project_plan,
                 "replay": cluster_plans.replay_plan}
        plan = plans[task](self, dict(kwargs or {}))
        self._clean()
        if should_stop is not None and should_stop():
            return None  # no one waits for it any more (as ProcessExecutor before a worker is free)
        files = self.store.get(plan.key)
        if files is not None:
            return plan.result(files)
        return self._watch(plan, on_progress or (lambda *a: None), should_stop or (lambda: False),
                           should_finish or (lambda: False))

    def shutdown(self, timeout: float = 5.0) -> None:
        if self.local is not None:
            self.local.shutdown(timeout)

    # ---------------------------------------------------------------- the cluster

    def client(self):
        """Ray's job client, made when the head answers (its constructor asks the head's version);
        ClusterDown with the plain message while it does not."""
        with self._lock:
            if self._client is None:
                health = self.health.check()
                if not health.ok:
                    raise ClusterDown(health.message)
                from ray.job_submission import JobSubmissionClient

                try:
                    self._client = JobSubmissionClient(self.config.address, headers=self._headers or None)
                except (*_down_errors(), RuntimeError) as e:  # down (or refused) since the check
                    raise ClusterDown(self._lost(e).message) from None
            return self._client

    def _lost(self, error: BaseException):
        """A request to the head failed: a new client next time; refused (a token) or down (anything else)."""
        self._client = None
        if isinstance(error, ClusterDown):  # the state says so already
            return self.health.check()
        if "Authentication" in type(error).__name__ or "Authentication" in str(error)[:200]:
            return self.health.check(force=True)
        return self.health.mark_down(error)

    def _wait_for_cluster(self, on_progress, should_stop) -> bool:
        """Until the head answers (True) or no one watches (False); the message says why it waits.
        RuntimeError when the head refuses this server's token."""
        shown = None
        while True:
            health = self.health.check()
            if health.ok:
                return True
            if health.refused:
                raise RuntimeError(f"{health.message} Then press Retry.")
            if health.message != shown:
                on_progress(None, health.message)
                shown = health.message
            if should_stop():
                return False
            time.sleep(min(self.config.poll_s, 1.0))

    def gpus(self) -> float:
        """GPUs in the cluster (checked at most once a minute; 0 when the check fails)."""
        now = time.monotonic()
        if self._gpus is None or now - self._gpus[0] > 60:
            try:
                from ray.util.state import list_nodes

                nodes = list_nodes(address=self.config.address, detail=True, timeout=10)
                total = sum(float((n.resources_total or {}).get("GPU", 0)) for n in nodes if n.state == "ALIVE")
            except Exception:  # noqa: BLE001 - no GPU request is the safe answer
                total = 0.0
            self._gpus = (now, total)
        return self._gpus[1]

    def entrypoint(self, plan: Plan) -> str:
        return shlex.join([self.config.python, *plan.argv])

    def runtime_env(self) -> dict:
        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NETLENS_IN_WORKER": "1", "PYTHONUNBUFFERED": "1",
               "NETLENS_LEASE_S": str(self.config.lease_s), "RAY_USAGE_STATS_ENABLED": "0"}
        if os.environ.get("NETLENS_MNIST_DIR"):
            env["NETLENS_MNIST_DIR"] = os.environ["NETLENS_MNIST_DIR"]
        # The store's key never travels with a job: Ray keeps and shows the runtime env (and the command
        # line and metadata). Only the key file's path goes; the node holds the file (analysis.compute.store_key).
        if key_file_path():
            env[KEY_FILE_ENV] = key_file_path()
        out: dict = {"env_vars": env}
        if self.config.upload_code:
            out.update(py_modules=[str(PACKAGE)], excludes=["__pycache__", "*.pyc"])
        return out

    def _submit_or_join(self, plan: Plan) -> str:
        """Submit under the key, or join the job that has it; a failed or stopped one is retried
        under the next free ID. Returns the submission ID to watch."""
        client, gpus = self.client(), self.gpus()
        for attempt in range(1, 51):
            sid = plan.key if attempt == 1 else f"{plan.key}-{attempt}"
            try:
                client.submit_job(entrypoint=self.entrypoint(plan), submission_id=sid, entrypoint_num_cpus=1,
                                  entrypoint_num_gpus=self.config.gpu_share if gpus > 0 else None,
                                  runtime_env=self.runtime_env(), metadata={"netlens_key": plan.key})
                self.submitted.append(sid)
                return sid
            except RuntimeError as e:
                if "already exists" not in str(e):
                    raise RuntimeError(f"The cluster at {self.config.address} refused the job: "
                                       f"{_first_line(e)}") from None
            status = str(client.get_job_info(sid).status.value)  # confirm the refusal: is it there?
            if status in ("PENDING", "RUNNING") or (status == "SUCCEEDED" and self.store.has(plan.key)):
                return sid  # join it
        raise RuntimeError(f"The job {plan.key} failed 50 times on the cluster; look at its logs on the Ray dashboard.")

    def _watch(self, plan: Plan, on_progress, should_stop, should_finish) -> Any:

        store, key, what = self.store, plan.key, WHAT[plan.task]
        store.renew_lease(key, self.server_id)
        try:
            sid, seen, shown, pending_since = None, 0, None, time.monotonic()
            while True:
                if should_stop():
                    return self._leave(key, sid)
                store.renew_lease(key, self.server_id)
                store.touch_data(*plan.data)
                if (
                    should_finish()
                ):  # renewed every poll: the job clears a request left from an earlier run at its start
                    store.put_live(key, FINISH, b"1")
                try:
                    if sid is None:  # first, or after the head stopped answering: submit, or join it
                        if self._client is None and not self._wait_for_cluster(on_progress, should_stop):
                            continue
                        sid, seen = self._submit_or_join(plan), 0
                    info = self.client().get_job_info(sid)
                    status = str(info.status.value)
                    if status == "PENDING":
                        shown = self._pending(on_progress, shown, pending_since, what)
                    else:
                        seen = self._relay(plan, sid, seen, on_progress)
                except _down_errors() as e:
                    self._lost(e)
                    sid = shown = None
                    continue
                if status == "SUCCEEDED":
                    files = store.get(key)
                    if files is None:
                        raise RuntimeError(f"The {what} finished on the cluster, but its result in the store is "
                                           "missing or damaged. Press Retry to compute it again.")
                    return plan.result(files)
                if status in ("FAILED", "STOPPED"):
                    if should_stop():
                        return None
                    mismatch = self._mismatch(sid, info)
                    if mismatch is not None:
                        raise RuntimeError(mismatch)
                    raise RuntimeError(f"The {what} stopped on the cluster: {_why(info, status)}"
                                       f"{self._error_tail(sid)}. Press Retry to run it again.")
                time.sleep(self.config.poll_s)
        finally:
            store.drop_lease(key, self.server_id)

    def _leave(self, key: str, sid: str | None) -> None:
        """This server's last watcher left: drop the lease; stop the job if no server watches it."""
        self.store.drop_lease(key, self.server_id)
        if sid is not None and self.store.fresh_leases(key, self.config.lease_s) == 0:
            try:
                self.client().stop_job(sid)
            except Exception:  # noqa: BLE001 - the job stops itself when its leases go stale
                pass
        return None

    def _pending(self, on_progress, shown, since: float, what: str):
        waited = time.monotonic() - since
        if waited > self.config.pending_limit_s:
            raise RuntimeError(f"The cluster at {self.config.address} has not started this {what} in "
                               f"{waited / 60:.0f} min: it has no free {'GPU' if self.gpus() else 'CPU'} for it. "
                               "Try again later, or ask the administrator to add capacity.")
        message = "waiting for a GPU on the cluster" if self.gpus() > 0 else "waiting on the cluster"
        if message != shown:
            on_progress(None, message)
        return message

    def _relay(self, plan: Plan, sid: str, seen: int, on_progress) -> int:
        """Relay the job's new JSON progress lines; returns how many complete lines were read."""
        lines = self.client().get_job_logs(sid).split("\n")[:-1]  # the last piece may be incomplete
        for line in lines[seen:]:
            if not line.startswith('{"netlens": "progress"'):
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if plan.latest is None:
                on_progress(msg.get("progress"), msg.get("message"))
            else:
                on_progress(msg.get("progress"), msg.get("message"), plan.latest(msg))
        return max(seen, len(lines))

    def _mismatch(self, sid: str, info) -> str | None:
        """The version-mismatch message when the job's node runs another NetLens (None otherwise)."""
        try:
            logs = self.client().get_job_logs(sid)
        except Exception:  # noqa: BLE001 - then Ray's own message is all there is
            logs = ""
        if getattr(info, "driver_exit_code", None) == VERSION_EXIT:
            logs += '\n"netlens": "version-mismatch"'
        return version_mismatch(logs + "\n" + str(getattr(info, "message", "") or ""))

    def _error_tail(self, sid: str) -> str:
        try:
            lines = [x for x in self.client().get_job_logs(sid).splitlines() if x.strip()]
        except Exception:  # noqa: BLE001 - the message is complete without it
            return ""
        errors = [x for x in lines if x.startswith(("error:", "python -m")) or "Error" in x]
        return f" ({errors[-1].strip()[:300]})" if errors else ""

    def _clean(self) -> None:
        if time.monotonic() - self._cleaned > 600:
            self._cleaned = time.monotonic()
            self.store.clean()

    def stats(self) -> dict:
        """For /admin: the back end, the cluster's address, and the local workers."""
        local = {"max_workers": 0, "threads_per_worker": None, "workers": [], "waiting": 0, "started_total": 0}
        if hasattr(self.local, "stats"):
            local.update(self.local.stats())
        return {**local, "backend": "ray", "address": self.config.address, "store": str(self.store.root),
                "submitted": len(self.submitted), "insecure": self.config.insecure}

    def pids(self) -> list[int]:
        return self.local.pids() if hasattr(self.local, "pids") else []


def _why(info, status: str) -> str:
    """Why a job ended, in plain words: from its exit status, else the first line of Ray's message
    (without the log tail Ray appends to it)."""

    code = getattr(info, "driver_exit_code", None)
    if code in (137, -9):
        return f"its process was killed (exit status {code}: out of memory, or ended by someone on the cluster)"
    if code == STOPPED_EXIT:
        return "it stopped itself because no app server renewed its watcher lease in time"
    if code:
        return f"its command failed with exit status {code}"
    text = str(info.message or status).split(", last available logs", 1)[0].strip().splitlines()
    return text[0][:300] if text else status


def _down_errors() -> tuple:
    """What a request to a head that is gone (or refuses the token) raises."""
    from ray.exceptions import AuthenticationError
    from requests.exceptions import RequestException

    return (ConnectionError, RequestException, AuthenticationError)


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:300] if text else type(e).__name__
