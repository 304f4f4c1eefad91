"""Long CPU jobs in worker processes, so the web server's own process keeps its GIL and cores.

``ProcessExecutor(max_workers, threads_per_worker).run(task, kwargs, on_progress, should_stop)`` runs the
allow-listed task ``task`` (never a callable or path from user input) as ``fn(report, should_stop, **kwargs)``
in a persistent worker process (at nice 10), blocking the calling (JobRegistry) thread. Progress is relayed in
order as ``on_progress(progress, message[, latest])``; ``should_stop()`` reaches the task's; the result is
returned and the task's exception raised again (the worker's traceback as ``__cause__``). A worker that dies
(killed, segfault, out of memory) raises :class:`WorkerDied` within ``poll_s``, never a hang, and the next run
starts a fresh one. Workers start lazily, are reused (importing torch costs seconds), stop at exit, and are
fresh interpreters (``python -c``; never a fork of a process with torch threads) on a socket pair.
Pickles: kwargs, progress, results and errors cross the process boundary pickled: our own objects (configs,
arrays, tensors, models we built), never a user's file (uploads are decoded to arrays before they get here).
No Streamlit, no torch in this module.
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from multiprocessing.connection import Connection
from typing import Any, Callable, Mapping

from analysis.compute.worker_process import NICENESS, recv, resolve_task, send

__all__ = ["ProcessExecutor", "WorkerDied", "UnknownTask", "DEFAULT_TASKS", "NICENESS", "check_task", "resolve_task"]
log = logging.getLogger(__name__)
DEFAULT_TASKS = {
    name: f"analysis.compute.tasks:{name}" for name in ("train", "project", "count", "replay", "finetune")
}  # only these run
IN_WORKER_ENV = "NETLENS_IN_WORKER"  # "1" in every worker process
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class WorkerDied(RuntimeError):
    """The worker process ended in the middle of a job (killed, crashed, out of memory)."""


class UnknownTask(ValueError):
    """A task name that is not in the executor's allow-list."""


class RemoteTraceback(Exception):
    """The worker's traceback: the ``__cause__`` of a task's error raised again here."""


def check_task(task, tasks: Mapping[str, str]) -> None:
    """UnknownTask unless ``task`` is a name in the allow-list ``tasks``."""
    if not isinstance(task, str) or task not in tasks:
        raise UnknownTask(f"Unknown task {task!r}: expected one of {', '.join(sorted(tasks))}. "
                          "Only the tasks in the allow-list can run.")


# ---------------------------------------------------------------- the server side

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # where `import analysis` works
_CHILD = "import sys; from analysis.compute.worker_process import child_main; child_main(int(sys.argv[1]))"


class _Worker:
    """The server's handle on one worker process: the process and its end of the socket."""

    def __init__(self, threads: int, tasks: dict[str, str], torch_threads: bool = True):
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (_ROOT, os.environ.get("PYTHONPATH"))))}
        # before the child's libraries start threads; IN_WORKER_ENV: the training loop leaves the count alone
        env.update({**{var: str(threads) for var in _THREAD_VARS}, IN_WORKER_ENV: "1"})
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()  # only the child holds it now: its death closes the socket for us
        self.conn, self.pid, self.task, self.jobs = Connection(ours.detach()), self.proc.pid, None, 0
        send(self.conn, ("setup", threads, tasks, torch_threads))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exitcode(self, wait_s: float = 5.0) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(wait_s)
        return None

    def stop(self, grace_s: float = 0.0) -> None:
        if grace_s and self.alive():
            with contextlib.suppress(OSError, ValueError):
                send(self.conn, ("quit",))
            self.exitcode(grace_s)
        if self.alive():
            self.proc.kill()
            self.exitcode(5)
        self.conn.close()


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else "unknown signal"
        why = f"signal {-exitcode}, {name}" + (": killed, perhaps because the server ran short of memory"
                                               if -exitcode == signal.SIGKILL else "")
    else:
        why = "it stopped answering" if exitcode is None else f"exit code {exitcode}"
    return f"The worker process stopped unexpectedly ({why}). Please try again: the next job starts a fresh worker."


_executors: "weakref.WeakSet[ProcessExecutor]" = weakref.WeakSet()


@atexit.register
def _stop_executors() -> None:
    for ex in list(_executors):
        ex.shutdown(timeout=2.0)


class ProcessExecutor:
    """Runs allow-listed tasks in up to ``max_workers`` persistent worker processes, each with
    ``threads_per_worker`` torch threads. After Stop, a task still running ``stop_grace_s``
    seconds later has its worker killed (None: wait for it)."""

    def __init__(self, max_workers: int = 1, threads_per_worker: int = 1, *, tasks: Mapping[str, str] | None = None,
                 start_timeout_s: float = 180.0, poll_s: float = 0.1, stop_grace_s: float | None = 20.0,
                 torch_threads: bool = True):
        for name, value in (("max_workers", max_workers), ("threads_per_worker", threads_per_worker)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1; got {value!r}.")
        self.max_workers, self.threads_per_worker = max_workers, threads_per_worker
        self.tasks = dict(DEFAULT_TASKS if tasks is None else tasks)  # name -> "module:function"
        self.start_timeout_s, self.poll_s, self.stop_grace_s = float(start_timeout_s), float(poll_s), stop_grace_s
        self.torch_threads = torch_threads  # False: its tasks never use torch (the zip decoder's worker)
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._count = self._started_total = 0  # count: idle + busy + starting
        self._line: deque = deque()  # callers waiting for a worker, first come first served
        self._closed = False
        _executors.add(self)

    def run(self, task: str, kwargs: Mapping[str, Any] | None = None,
            on_progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None,
            should_finish: Callable[[], bool] | None = None) -> Any:
        """Run ``task(report, should_stop, **kwargs)`` in a worker; block until it ends. Returns its result
        (None when ``should_stop()`` was true before a worker was free). ``should_finish()``: end with what
        it has (a replay's frames so far; the task sees it as should_stop). Raises UnknownTask, WorkerDied
        or the task's own exception."""
        check_task(task, self.tasks)
        blob = pickle.dumps(("run", task, dict(kwargs or {})), protocol=5)  # an unpicklable kwarg fails here
        worker = self._acquire(should_stop, on_progress)
        if worker is None:
            return None
        reply = None
        try:
            stop = (
                should_stop if should_finish is None else lambda: bool(should_stop and should_stop()) or should_finish()
            )
            reply = self._drive(worker, task, blob, on_progress, stop)
        finally:
            self._release(worker, healthy=reply is not None)  # else: killed, or left mid-task (unknown state)
        if reply[0] == "done":
            return reply[1]
        _, error, text, tb = reply
        raise (error if isinstance(error, BaseException) else RuntimeError(text)) from RemoteTraceback(
            f"\nIn the worker process:\n{tb}")

    def start(self, n: int | None = None) -> list[int]:
        """Start workers ahead of the first job (server start-up); returns the live workers' pids."""
        want = self.max_workers if n is None else min(int(n), self.max_workers)
        while True:
            with self._cond:
                if self._closed or self._count >= want:
                    break
                self._count += 1
            worker = self._new_worker()
            with self._cond:
                self._idle.append(worker)
                self._cond.notify_all()
        return self.pids()

    def pids(self) -> list[int]:
        """The process ids of the live workers (idle and busy)."""
        with self._cond:
            return [w.pid for w in list(self._idle) + list(self._busy) if w.alive()]

    def stats(self) -> dict:
        """For /admin: workers (pid, task, jobs run), how many wait for one, how many were started."""
        with self._cond:
            rows = [{"pid": w.pid, "task": w.task, "jobs": w.jobs, "busy": w in self._busy}
                    for w in list(self._busy) + self._idle]
            return {"max_workers": self.max_workers, "threads_per_worker": self.threads_per_worker,
                    "workers": rows, "waiting": len(self._line), "started_total": self._started_total}

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker: idle ones are asked to quit, busy ones are killed. Runs at exit too."""
        with self._cond:
            self._closed = True
            idle, busy = list(self._idle), list(self._busy)
            self._idle.clear()
            self._cond.notify_all()
        for w in idle:
            w.stop(grace_s=timeout)
        for w in busy:
            w.proc.kill()  # its job thread then sees WorkerDied and cleans up

    def _new_worker(self) -> _Worker:
        """Start a worker for a slot already counted in _count (given back if the start fails)."""
        try:
            worker, message = _Worker(self.threads_per_worker, self.tasks, self.torch_threads), None
            with contextlib.suppress(EOFError, OSError):
                message = recv(worker.conn) if worker.conn.poll(self.start_timeout_s) else None
            if message is None or message[0] != "ready":
                worker.stop()
                if message is not None and message[0] == "error":
                    raise RuntimeError(f"The worker process could not start: {message[2]}")
                raise WorkerDied(_death_message(worker.exitcode(0.1)))
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self._started_total += 1
        log.info("worker process %s started", worker.pid)
        return worker

    def _acquire(self, should_stop, on_progress) -> _Worker | None:
        me, told = object(), on_progress is None
        with self._cond:
            self._line.append(me)
            try:
                while True:
                    if self._closed:
                        raise RuntimeError("The job runner has shut down (the server is stopping).")
                    if self._line[0] is me:
                        while self._idle:
                            worker = self._idle.pop()
                            if worker.alive():
                                self._busy.add(worker)
                                return worker
                            self._count -= 1  # died while idle
                        if self._count < self.max_workers:
                            self._count += 1
                            break
                    if should_stop is not None and should_stop():
                        return None
                    if not told:  # under our lock: fine for Job.report (the registry never calls us)
                        told = on_progress(None, "waiting for a free worker process") or True
                    self._cond.wait(self.poll_s)
            finally:
                self._line.remove(me)
                self._cond.notify_all()
        worker = self._new_worker()
        with self._cond:
            self._busy.add(worker)
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            worker.task = None
            keep = healthy and not self._closed and worker.alive()
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify_all()
        if not keep:
            worker.stop()

    def _drive(self, worker: _Worker, task: str, blob: bytes, on_progress, should_stop) -> tuple:
        """Send the task, relay progress and stop; returns the worker's "done" or "error" reply."""
        worker.task, worker.jobs, stop_sent = task, worker.jobs + 1, None
        try:
            worker.conn.send_bytes(blob)
            while True:
                ready = worker.conn.poll(self.poll_s)  # also true at EOF: the worker died
                if stop_sent is None and should_stop is not None and should_stop():
                    send(worker.conn, ("stop",))
                    stop_sent = time.monotonic()
                elif stop_sent and self.stop_grace_s is not None and time.monotonic() > stop_sent + self.stop_grace_s:
                    worker.proc.kill()  # it did not wind down in time: Stop frees the worker for the next job
                if ready:
                    message = recv(worker.conn)
                    if message[0] == "progress":
                        if on_progress is not None:
                            _, progress, text, has, latest = message
                            on_progress(progress, text, latest) if has else on_progress(progress, text)
                    elif message[0] in ("done", "error"):
                        return message
        except (EOFError, BrokenPipeError, ConnectionError) as e:
            raise WorkerDied(f"Stopped: the job did not wind down within {self.stop_grace_s:g} s, so its worker "
                             "was ended." if stop_sent else _death_message(worker.exitcode())) from e
