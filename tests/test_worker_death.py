"""A worker that dies is not a hang (real server): two sessions watch one training; its worker
process is killed; both see a plain message with Retry within a generous timeout, and Retry
trains in a fresh worker."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

pytest.importorskip("websockets")

from tests.helpers import run_in_own_loop
from tests.servers import TRAINED_METRIC, Server, Student, process_tree  # noqa: E402  # noqa: E402

DIED = "The worker process stopped unexpectedly"


def worker_pids(server_pid: int) -> list[int]:
    """The server's worker processes (analysis.compute.workers), found by their command line."""
    out = []
    for pid in process_tree(server_pid)[1:]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"worker_process import child_main" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


async def _scenario(server: Server) -> dict:
    students = [Student(server.base, i + 1) for i in range(2)]
    for s in students:
        await s.connect()
        assert await s.wait(await s.goto("train"), lambda x: x.widget("button", "Train"), 90, "Training"), s.errors
    for s in students:
        seq = await s.rerun([s.trigger(s.widget("button", "Train"))])
        assert await s.wait(seq, lambda x: x.has("progress", "epoch"), 120, "training under way"), s.errors
    killed = worker_pids(server.pid)
    assert killed, "no worker process found"
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    shown = await asyncio.gather(*(s.wait(s.full_seq, lambda x: x.has("alert", DIED) and x.widget("button", "Retry"),
                                          30, "the message after the worker died") for s in students))
    seconds = time.monotonic() - t0
    first = students[0]
    seq = await first.rerun([first.trigger(first.widget("button", "Retry"))])
    retried = await first.wait(seq, lambda x: x.has("metric", TRAINED_METRIC), 180, "training again after Retry")
    fresh = worker_pids(server.pid)
    errors = [e for s in students for e in s.errors if "exception" in e]
    for s in students:
        await s.close()
    return {"shown": shown, "seconds": seconds, "retried": retried, "killed": killed, "fresh": fresh,
            "errors": errors, "log": [e for s in students for e in s.errors]}


def test_a_killed_worker_shows_every_watcher_a_message_with_retry_and_the_next_job_gets_a_fresh_worker(tmp_path):
    server = Server(tmp_path, env={"NETLENS_WARM": "0", "NETLENS_WORKERS": "1"}, start_timeout=90)
    try:
        out = run_in_own_loop(lambda: _scenario(server))
    finally:
        server.stop()
    assert all(out["shown"]), out["log"]
    assert out["retried"], out["log"]
    assert out["fresh"] and not set(out["fresh"]) & set(out["killed"])  # a fresh worker ran the retry
    assert not out["errors"], out["errors"]
