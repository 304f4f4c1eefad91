"""The worker process's side of analysis.compute.workers: the wire (pickled messages over the socket pair,
our own objects only), the task's ``report``/``should_stop`` channel, and ``child_main``, which a fresh
interpreter runs (``python -c``; see workers._CHILD). No Streamlit, no torch at import."""
from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable

from analysis.compute.malloc import give_back_free_memory

__all__ = ["NICENESS", "send", "recv", "resolve_task", "child_main"]
NICENESS = 10  # workers run at a lower CPU priority than the web server, which must stay responsive
_UNSET = object()


def send(conn, message) -> None:
    # Our own objects only (see the module docstring); protocol 5 keeps arrays cheap.
    conn.send_bytes(pickle.dumps(message, protocol=5))


def recv(conn):
    # Bytes written by our own worker (or our own server): never a user's file.
    return pickle.loads(conn.recv_bytes())


def resolve_task(path: str) -> Callable:
    """The function at "module:function" (a path from an allow-list, never from user input)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class _Channel:
    """What a task running in a worker sees: ``report`` and ``should_stop``, over the pipe."""

    def __init__(self, conn):
        self.conn, self.stopped, self.quit = conn, False, False

    def report(self, progress: float | None = None, message: str | None = None, latest: Any = _UNSET) -> None:
        has = latest is not _UNSET
        try:
            send(self.conn, ("progress", progress, message, has, latest if has else None))
        except (ConnectionError, EOFError, OSError):
            os._exit(0)  # the server is gone: so is the reason to work

    def should_stop(self) -> bool:
        try:
            while self.conn.poll(0):
                kind = recv(self.conn)[0]
                self.stopped = self.stopped or kind in ("stop", "quit")
                self.quit = self.quit or kind == "quit"
        except (EOFError, OSError):
            os._exit(0)
        return self.stopped


def _set_up(threads: int, torch_threads: bool = True) -> None:
    """Once per worker process (OMP_NUM_THREADS and the like are set by the server already):
    a lower CPU priority (before torch starts any thread, so every thread has it), torch's threads
    (``torch_threads=False``: workers whose tasks never use torch do not import it)."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    if not torch_threads:
        return
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # settable once per process, before any parallel work
        torch.set_num_interop_threads(threads)


def _error_reply(e: BaseException) -> tuple:
    text = str(e) or type(e).__name__
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        pickle.loads(pickle.dumps(e, protocol=5))  # some exceptions pickle but cannot be rebuilt
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
        send(conn, reply)
    except (BrokenPipeError, ConnectionError, EOFError):
        return False
    except Exception as e:  # the result itself could not be pickled
        send(conn, _error_reply(RuntimeError(f"The worker could not send its result back: {e}")))
    del reply
    gc.collect()
    give_back_free_memory()
    return not channel.quit


def child_main(fd: int) -> None:
    """The worker process (a fresh interpreter): set up once, then run tasks until told to
    quit or the server goes away (the socket closes)."""
    conn = Connection(fd)
    try:
        _, threads, tasks, *torch_threads = recv(conn)  # ("setup", threads, {name: "module:function"}[, torch])
        _set_up(threads, *torch_threads)
        fns = {name: resolve_task(path) for name, path in tasks.items()}
    except Exception as e:
        send(conn, _error_reply(e))
        return
    send(conn, ("ready", os.getpid()))
    while True:
        try:
            message = recv(conn)
        except (EOFError, OSError):
            return  # the server is gone
        if message[0] == "quit" or (message[0] == "run" and not _run_one(conn, fns, message[1], message[2])):
            return  # (a "stop" for a task that has already ended needs nothing)
