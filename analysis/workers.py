"""Long CPU jobs in worker processes, so the web server's own process keeps its GIL and cores.

``ProcessExecutor(max_workers=1, threads_per_worker=1).run(task, kwargs, on_progress, should_stop)``
runs the allow-listed task ``task`` (a name in ``tasks``; never a callable or a path from user
input) in a persistent worker process and blocks the calling thread (a JobRegistry worker
thread) until it ends:

- progress comes back through a pipe and is relayed in order as
  ``on_progress(progress, message[, latest])`` (the same call as ``Job.report``);
- ``should_stop()`` is polled every ``poll_s`` seconds; once true, "stop" is sent to the
  worker, where the task sees it through its own ``should_stop()``;
- the task's return value is returned; its exception is raised again here (the worker's
  traceback as the ``__cause__``);
- a worker that dies (killed, segfault, out of memory) raises :class:`WorkerDied` with a
  plain message within ``poll_s`` of its death, never a hang; the next run starts a fresh one.

Workers are started lazily (or ahead with ``start()``), reused between jobs (importing torch
costs seconds), started as fresh interpreters (``python -c``, like multiprocessing's "spawn",
but without re-running the server's main script; never a fork of a process that has torch
threads), talking over a socket pair with multiprocessing's framing, set up once (``torch.set_num_threads(threads_per_worker)``, the task modules
imported), and stopped at exit. A task is ``fn(report, should_stop, **kwargs)``, so the same
function runs in a thread too: :class:`InlineExecutor` has the same ``run`` and does that.

Pickling: kwargs, progress payloads, results and errors cross the process boundary as
pickles. They are our own objects (configs, arrays, tensors, models we built), made by our
code on one side and read by our code on the other; never a user's file. User uploads are
decoded into arrays before they get here and are never unpickled.

Pure Python: no Streamlit, and no torch in this module (the worker imports it).
"""
from __future__ import annotations

import atexit
import importlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["ProcessExecutor", "InlineExecutor", "WorkerDied", "UnknownTask", "DEFAULT_TASKS"]

log = logging.getLogger(__name__)

# The allow-list: task name -> "module:function". Only these can run in a worker.
DEFAULT_TASKS: dict[str, str] = {
    "train": "analysis.tasks:train",
    "project": "analysis.tasks:project",
    "count": "analysis.tasks:count",
}
_UNSET = object()


class WorkerDied(RuntimeError):
    """The worker process ended in the middle of a job (killed, crashed, out of memory)."""


class UnknownTask(ValueError):
    """A task name that is not in the executor's allow-list."""


class RemoteTraceback(Exception):
    """The worker's traceback, attached as the ``__cause__`` of an error raised again here."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _send(conn, message) -> None:
    # Our own objects only (see the module docstring); protocol 5 keeps arrays cheap.
    conn.send_bytes(pickle.dumps(message, protocol=5))


def _recv(conn):
    # Bytes written by our own worker (or our own server): never a user's file.
    return pickle.loads(conn.recv_bytes())


def _resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _check_tasks(tasks: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, path in dict(tasks).items():
        if not (isinstance(name, str) and isinstance(path, str) and ":" in path):
            raise ValueError(f"Expected tasks as {{name: 'module:function'}}; got {name!r}: {path!r}.")
        out[name] = path
    return out


def _check_name(task, tasks: Mapping[str, str]) -> None:
    if not isinstance(task, str) or task not in tasks:
        raise UnknownTask(f"Unknown task {task!r}: expected one of {', '.join(sorted(tasks))}. "
                          "Only the tasks in the allow-list can run.")


# ---------------------------------------------------------------- the worker process side

class _Channel:
    """What a task running in a worker sees: ``report`` and ``should_stop``, over the pipe."""

    def __init__(self, conn):
        self.conn = conn
        self.stopped = False
        self.quit = False

    def _send(self, message) -> None:
        try:
            _send(self.conn, message)
        except (BrokenPipeError, ConnectionError, EOFError, OSError):
            os._exit(0)  # the server is gone: so is the reason to work

    def report(self, progress: float | None = None, message: str | None = None, latest: Any = _UNSET) -> None:
        has = latest is not _UNSET
        self._send(("progress", progress, message, has, latest if has else None))

    def should_stop(self) -> bool:
        try:
            while self.conn.poll(0):
                kind = _recv(self.conn)[0]
                self.stopped = self.stopped or kind in ("stop", "quit")
                self.quit = self.quit or kind == "quit"
        except (EOFError, OSError):
            os._exit(0)
        return self.stopped


def _set_up(threads: int) -> None:
    """Once per worker process: thread counts for the maths libraries, then torch."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is pinned; tasks without it still run
        return
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set (only possible once per process)
        pass


def _error_reply(e: BaseException) -> tuple:
    text = str(e) or type(e).__name__
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        blob = pickle.dumps(e, protocol=5)
        pickle.loads(blob)  # some exceptions pickle but cannot be rebuilt
    except Exception:
        e = None
    return ("error", e, text, tb)


def _run_one(conn, fns: dict, task: str, kwargs: dict) -> bool:
    """Run one task; send its result or error. Returns False when the server asked to quit."""
    channel = _Channel(conn)
    try:
        reply = ("done", fns[task](channel.report, channel.should_stop, **kwargs))
    except Exception as e:
        reply = _error_reply(e)
    try:
        _send(conn, reply)
    except (BrokenPipeError, ConnectionError, EOFError):
        return False
    except Exception as e:  # the result itself could not be pickled
        _send(conn, _error_reply(RuntimeError(f"The worker could not send its result back: {e}")))
    return not channel.quit


def _child_main(fd: int) -> None:
    """The worker process (a fresh interpreter): set up once, then run tasks until told to
    quit or the server goes away (the socket closes)."""
    conn = Connection(fd)
    try:
        _, threads, tasks = _recv(conn)  # ("setup", threads, {name: "module:function"})
        _set_up(threads)
        fns = {name: _resolve(path) for name, path in tasks.items()}
    except Exception as e:
        _send(conn, _error_reply(e))
        return
    _send(conn, ("ready", os.getpid()))
    while True:
        try:
            message = _recv(conn)
        except (EOFError, OSError):
            return  # the server is gone
        if message[0] == "quit":
            return
        if message[0] == "run" and not _run_one(conn, fns, message[1], message[2]):
            return
        # "stop" for a task that has already ended: nothing to do


# ---------------------------------------------------------------- the server side

_ROOT = str(Path(__file__).resolve().parent.parent)  # where `import analysis` works
_CHILD = "import sys; from analysis.workers import _child_main; _child_main(int(sys.argv[1]))"
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class _Worker:
    """The server's handle on one worker process: the process and its end of the socket."""

    def __init__(self, threads: int, tasks: dict[str, str]):
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (_ROOT, os.environ.get("PYTHONPATH"))))}
        env.update({var: str(threads) for var in _THREAD_VARS})  # before the child's libraries start threads
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()  # only the child holds it now: its death closes the socket for us
        self.conn = Connection(ours.detach())
        self.pid = self.proc.pid
        self.task: str | None = None
        self.jobs = 0
        _send(self.conn, ("setup", threads, tasks))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exitcode(self, wait_s: float = 5.0) -> int | None:
        try:
            return self.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float = 0.0) -> None:
        if grace_s and self.alive():
            try:
                _send(self.conn, ("quit",))
            except (OSError, ValueError):
                pass
            self.exitcode(grace_s)
        if self.alive():
            self.proc.kill()
            self.exitcode(5)
        self.conn.close()


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        why = f"signal {-exitcode}, {name}" + (": killed, perhaps because the server ran short of memory"
                                               if -exitcode == signal.SIGKILL else "")
    elif exitcode is None:
        why = "it stopped answering"
    else:
        why = f"exit code {exitcode}"
    return (f"The worker process stopped unexpectedly ({why}). Please try again: "
            "the next job starts a fresh worker.")


_executors: "weakref.WeakSet[ProcessExecutor]" = weakref.WeakSet()


@atexit.register
def _stop_executors() -> None:
    for ex in list(_executors):
        ex.shutdown(timeout=2.0)


class ProcessExecutor:
    """Runs allow-listed tasks in up to ``max_workers`` persistent worker processes."""

    def __init__(self, max_workers: int = 1, threads_per_worker: int = 1, *, tasks: Mapping[str, str] | None = None,
                 start_timeout_s: float = 180.0, poll_s: float = 0.1):
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a whole number of at least 1; got {max_workers!r}.")
        if isinstance(threads_per_worker, bool) or not isinstance(threads_per_worker, int) or threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be a whole number of at least 1; got {threads_per_worker!r}.")
        self.max_workers, self.threads_per_worker = max_workers, threads_per_worker
        self.tasks = _check_tasks(DEFAULT_TASKS if tasks is None else tasks)
        self.start_timeout_s, self.poll_s = float(start_timeout_s), float(poll_s)
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._count = 0  # idle + busy + starting
        self._line: deque = deque()  # callers waiting for a worker, first come first served
        self._closed = False
        self._started_total = 0
        _executors.add(self)

    # ---------------------------------------------------------------- API

    def run(self, task: str, kwargs: Mapping[str, Any] | None = None,
            on_progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None) -> Any:
        """Run ``task(report, should_stop, **kwargs)`` in a worker; block until it ends.

        Returns the task's result (None when ``should_stop()`` was true before a worker was
        free). Raises UnknownTask, WorkerDied, or the task's own exception."""
        _check_name(task, self.tasks)
        payload = dict(kwargs or {})
        worker = self._acquire(should_stop)
        if worker is None:
            return None
        healthy = False
        try:
            result, healthy = self._drive(worker, task, payload, on_progress, should_stop)
            return result
        except _TaskError as e:
            healthy = True
            raise e.error from e.cause
        finally:
            self._release(worker, healthy)

    def start(self, n: int | None = None) -> list[int]:
        """Start workers ahead of the first job (server start-up); returns the live workers' pids."""
        want = self.max_workers if n is None else min(int(n), self.max_workers)
        while True:
            with self._cond:
                if self._closed or self._count >= want:
                    break
                self._count += 1
            try:
                worker = self._spawn()
            except BaseException:
                with self._cond:
                    self._count -= 1
                    self._cond.notify_all()
                raise
            with self._cond:
                self._idle.append(worker)
                self._cond.notify_all()
        return self.pids()

    def pids(self) -> list[int]:
        """The process ids of the live workers (idle and busy)."""
        with self._cond:
            return [w.pid for w in list(self._idle) + list(self._busy)]

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
            try:
                w.proc.kill()
            except (OSError, ValueError, AttributeError):
                pass

    # ---------------------------------------------------------------- internals

    def _spawn(self) -> _Worker:
        worker = _Worker(self.threads_per_worker, self.tasks)
        try:
            message = _recv(worker.conn) if worker.conn.poll(self.start_timeout_s) else None
        except (EOFError, OSError):
            message = None
        if message is None or message[0] != "ready":
            worker.stop()
            if message is not None and message[0] == "error":
                raise RuntimeError(f"The worker process could not start: {message[2]}")
            raise WorkerDied(_death_message(worker.exitcode(0.1)))
        with self._cond:
            self._started_total += 1
        log.info("worker process %s started", worker.pid)
        return worker

    def _acquire(self, should_stop) -> _Worker | None:
        me = object()
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
                            self._discard(worker)  # died while idle
                        if self._count < self.max_workers:
                            self._count += 1
                            break
                    if should_stop is not None and should_stop():
                        return None
                    self._cond.wait(self.poll_s)
            finally:
                self._line.remove(me)
                self._cond.notify_all()
        try:
            worker = self._spawn()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
            raise
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
                self._discard(worker)
            self._cond.notify_all()
        if not keep:
            worker.stop()

    def _discard(self, worker: _Worker) -> None:
        self._count -= 1  # lock held; the caller stops the process

    def _drive(self, worker: _Worker, task: str, kwargs: dict, on_progress, should_stop) -> tuple[Any, bool]:
        """Send the task, relay progress and stop; returns (result, True) or raises."""
        worker.task, worker.jobs = task, worker.jobs + 1
        blob = pickle.dumps(("run", task, kwargs), protocol=5)  # fails here (worker untouched) if unpicklable
        stop_sent = False
        try:
            worker.conn.send_bytes(blob)
            while True:
                ready = worker.conn.poll(self.poll_s)  # also true at EOF: the worker died
                if not stop_sent and should_stop is not None and should_stop():
                    _send(worker.conn, ("stop",))
                    stop_sent = True
                if ready:
                    message = _recv(worker.conn)
                    if message[0] == "progress":
                        if on_progress is not None:
                            _, progress, text, has, latest = message
                            on_progress(progress, text, latest) if has else on_progress(progress, text)
                    elif message[0] == "done":
                        return message[1], True
                    elif message[0] == "error":
                        raise _TaskError(message)
        except (EOFError, BrokenPipeError, ConnectionError) as e:
            raise WorkerDied(_death_message(worker.exitcode())) from e


class _TaskError(Exception):
    """The task raised in the worker: carries the exception to raise here and its traceback."""

    def __init__(self, message: tuple):
        _, error, text, tb = message
        super().__init__(text)
        self.error = error if isinstance(error, BaseException) else RuntimeError(text)
        self.cause = RemoteTraceback(f"\nIn the worker process:\n{tb}")


class InlineExecutor:
    """The same ``run`` as ProcessExecutor, in the calling thread (tests; a host without processes)."""

    def __init__(self, tasks: Mapping[str, str] | None = None):
        self.tasks = _check_tasks(DEFAULT_TASKS if tasks is None else tasks)

    def run(self, task: str, kwargs: Mapping[str, Any] | None = None,
            on_progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None) -> Any:
        _check_name(task, self.tasks)

        def report(progress=None, message=None, latest=_UNSET):
            if on_progress is not None:
                on_progress(progress, message) if latest is _UNSET else on_progress(progress, message, latest)

        return _resolve(self.tasks[task])(report, should_stop or (lambda: False), **dict(kwargs or {}))

    def shutdown(self, timeout: float = 0.0) -> None:
        pass
