"""The server's process-wide machinery, created once per process (an imported module, never a
page script): the job executor (worker processes) and the memory budget.

- ``EXECUTOR``: `analysis.compute.workers.ProcessExecutor` running the allow-listed tasks (training,
  maps) in worker processes, so long CPU work never competes with the web server for its GIL.
  ``NETLENS_WORKERS``: how many worker processes (default 1, using every core: jobs run in
  turn, and each worker costs ~450 MB once torch is imported); ``0`` runs jobs in threads of
  the server process instead (`tasks.InlineExecutor`).
  With ``NETLENS_RAY_ADDRESS`` set, `analysis.compute.cluster.executor.RayExecutor` instead: trainings and maps
  run as Ray Jobs shared by every app server (results in the store ``NETLENS_STORE``); the other
  tasks on the local executor. Without it ``ray`` is never imported. Pages do not know which.
  A wrong cluster setting does not stop the app: ``CLUSTER_PROBLEM`` says what (logged once, shown
  on the job pages and /admin) and trainings and maps fail with it; ``cluster_notice()`` also says
  when the cluster does not answer.
- ``JOB_THREADS``: how many jobs of one registry run at once in this server (the workers; more
  with the cluster back end, where a job thread only watches a job on the cluster).
- ``MEMORY``: `analysis.compute.budget.MemoryBudget` (``NETLENS_MEMORY_MB``, default the container's
  limit or the machine's memory minus a margin): heavy work reserves its bytes before it starts.
- ``job(task, kwargs, nbytes, label)``: the ``fn(job)`` to submit to a JobRegistry.
- ``warm_up()``: once per process, train the default models then the default maps in the
  background; dashboard/app.py's lifespan hands it the functions that do it, at server start.
"""
from __future__ import annotations

import logging
import os
import threading

from analysis.compute import budget, tasks, workers
from analysis.compute.cluster import health as cluster_health
from analysis.compute.cluster.executor import ClusterConfig, RayExecutor
from analysis.compute.store import Store, StoreConfig

log = logging.getLogger(__name__)
WORKERS_ENV = "NETLENS_WORKERS"


def worker_count(env=None) -> int:
    """Worker processes: ``NETLENS_WORKERS`` when set (0: run jobs in threads), else 1: GPU jobs
    run in turn anyway, and on a small CPU host two jobs at once only share the same cores while
    a second copy of torch costs ~450 MB (measured: benchmarks/README.md, Load)."""
    env = os.environ if env is None else env
    raw = str(env.get(WORKERS_ENV, "")).strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = -1
        if n < 0:
            raise ValueError(f"{WORKERS_ENV} must be a whole number of worker processes (0 runs jobs in the "
                             f"server's own threads); got {raw!r}. Fix it or unset it.")
        return n
    return 1


def make_executor(n: int):
    """A ProcessExecutor with ``n`` workers sharing the cores, or the in-thread executor for 0."""
    if n == 0:
        return tasks.InlineExecutor()
    threads = max(1, (os.cpu_count() or 1) // n)
    return workers.ProcessExecutor(max_workers=n, threads_per_worker=threads)


def make_cluster_executor(local, env=None):
    """The cluster back end (NETLENS_RAY_ADDRESS and NETLENS_STORE), with ``local`` for the tasks
    that run here; ValueError with what to fix when a setting is wrong."""

    return RayExecutor(ClusterConfig.from_env(env), Store(StoreConfig.from_env(env)), local=local)


def start_cluster(local, env=None) -> tuple[object, str | None]:
    """(executor, problem): the cluster back end, or, when one of its settings is wrong, an executor
    whose trainings and maps fail with the message (the single-machine pages keep working, the
    job pages show it): jobs never silently move onto this web server's cores. The problem is
    logged here, once per process."""

    problems = cluster_health.settings_problems(env)
    if not problems:
        return make_cluster_executor(local, env), None
    problem = ("The cluster back end is not set up correctly, so trainings and maps cannot run: "
               + " ".join(f"({i}) {p}" for i, p in enumerate(problems, 1)) if len(problems) > 1 else
               f"The cluster back end is not set up correctly, so trainings and maps cannot run: {problems[0]}")
    log.error("NetLens: %s", problem)
    return cluster_health.Unconfigured(local, problem), problem


WORKERS = worker_count()
CLUSTER = bool(os.environ.get("NETLENS_RAY_ADDRESS", "").strip())
EXECUTOR, CLUSTER_PROBLEM = start_cluster(make_executor(WORKERS)) if CLUSTER else (make_executor(WORKERS), None)
JOB_THREADS = 8 if CLUSTER else max(1, WORKERS)
MEMORY = budget.MemoryBudget()


def job(task: str, kwargs: dict, *, nbytes: int, label: str, holder: str = "server",
        hint: str = "try fewer points or a smaller model", should_finish=None):
    """``fn(job)`` for ``JobRegistry.submit``: reserve ``nbytes`` of MEMORY (waiting in line,
    its place shown as the job's message), then run ``task`` on EXECUTOR. A task that runs on
    the cluster reserves nothing here. ``should_finish()``: end it now with a complete result."""
    remote = getattr(EXECUTOR, "runs_remotely", lambda _task: False)(task)
    return tasks.as_job(EXECUTOR, task, kwargs, memory=None if remote else MEMORY, nbytes=nbytes, holder=holder,
                        label=label, hint=hint, should_finish=should_finish)


def cluster_notice() -> str | None:
    """Why trainings and maps cannot run now (a wrong setting; the cluster not answering or refusing
    this server's token), or None. Asks the head at most every 10 s (cached)."""
    if CLUSTER_PROBLEM or not CLUSTER:
        return CLUSTER_PROBLEM
    health = EXECUTOR.health.check()
    return None if health.ok else health.message


def cluster_overview() -> dict:
    """For /admin: the back end, the cluster's address, whether it answers, its jobs by state, the store's size."""
    if not CLUSTER:
        return {"backend": "this machine"}
    if CLUSTER_PROBLEM:
        return {"backend": "Ray", "address": os.environ.get("NETLENS_RAY_ADDRESS", "").strip(),
                "answers": False, "message": CLUSTER_PROBLEM, "configuration": True}

    return cluster_health.overview(EXECUTOR)


def worker_stats() -> dict:
    """For /admin: the worker processes (pid, task, jobs run) or the thread back end."""
    if isinstance(EXECUTOR, workers.ProcessExecutor) or CLUSTER:
        return EXECUTOR.stats()
    return {"max_workers": 0, "threads_per_worker": None, "workers": [], "waiting": 0, "started_total": 0}


# ---------------------------------------------------------------- warm from the start

_warm = {"started": False, "state": "not started", "error": None}
_warm_lock = threading.Lock()


def warm_state() -> dict:
    """Where the warm-up is: 'not started', 'models', 'maps', 'ready' or 'failed' (with the error)."""
    with _warm_lock:
        return dict(_warm)


def _set(**kw) -> None:
    with _warm_lock:
        _warm.update(kw)


def warm_up(models, maps) -> bool:
    """Once per process: in a background thread, ``models()`` (submit the default trainings and
    wait for them; returns the trained models) then ``maps(models)`` (the default maps).
    Returns True when this call started it. NETLENS_WARM=0 turns it off."""
    if os.environ.get("NETLENS_WARM", "1").strip() == "0":
        return False
    with _warm_lock:
        if _warm["started"]:
            return False
        _warm["started"] = True

    def run() -> None:
        try:
            _set(state="models")
            trained = models()
            _set(state="maps")
            maps(trained)
            _set(state="ready")
        except Exception as e:  # the pages still train on demand: a failed warm-up is not fatal
            log.warning("warm-up failed", exc_info=True)
            _set(state="failed", error=str(e) or type(e).__name__)

    threading.Thread(target=run, name="netlens-warm-up", daemon=True).start()
    return True
