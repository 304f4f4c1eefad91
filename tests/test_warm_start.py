"""Warm from the start, with a real server: the server's start (dashboard/app.py's lifespan), not a
visit, starts the default trainings, then the default maps (of 500 digits here:
NETLENS_MAX_POINTS_CPU), in worker processes; a visitor after the warm-up gets Predict's answer
without any training starting (the training registry's counts, read on /admin, do not move)."""
from __future__ import annotations

import asyncio
import secrets
import time

import pytest

pytest.importorskip("websockets")

from tests.helpers import run_in_own_loop
from tests.servers import (  # noqa: E402
    Server,  # noqa: E402
    Student,
    jobs_run,
)

ANSWER = "What each model says"  # Predict's heading over the models' answers
WAITING = "being trained once for everyone"  # Predict's words while the default models train


async def _admin(base: str, password: str) -> dict:
    s = Student(base)
    try:
        await s.connect()
        return await s.admin(password, 60)
    finally:
        await s.close()


async def _warm_then_visit(base: str, password: str, warm_timeout: float) -> dict:
    # Nobody visits: the server's start alone starts the warm-up (the admin page itself starts nothing).
    deadline = time.monotonic() + 60
    first = await _admin(base, password)
    while first.get("Warm-up") == "not started" and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        first = await _admin(base, password)
    assert first.get("Warm-up") in ("models", "maps", "ready"), f"no warm-up without a visit: {first.get('Warm-up')!r}"
    deadline, stats = time.monotonic() + warm_timeout, {}
    while time.monotonic() < deadline:
        stats = await _admin(base, password)
        if stats.get("Warm-up") in ("ready", "failed") or stats.get("Warm-up", "").startswith("failed"):
            break
        await asyncio.sleep(3)
    before = stats
    visitor = Student(base, 2)
    await visitor.connect()
    seen_waiting = []

    def ready(s: Student) -> bool:
        if s.has("alert", WAITING):
            seen_waiting.append(True)
        return s.has("heading", ANSWER)

    source = "Where the digit comes from"
    ok = await visitor.wait(await visitor.goto("predict"), lambda s: ready(s) or s.widget("radio", source), 60,
                            "Predict after the warm-up")
    if ok and not ready(visitor):
        visitor.choose(visitor.widget("radio", source), "A test digit")
        ok = await visitor.wait(await visitor.rerun(), ready, 60, "Predict's answer for a test digit")
    errors = visitor.errors + visitor.error_alerts
    await visitor.close()
    after = await _admin(base, password)
    return {"before": before, "after": after, "ok": ok, "waiting": bool(seen_waiting), "errors": errors}


def test_a_visitor_after_the_warm_up_gets_predicts_answer_without_training(tmp_path):
    password = secrets.token_hex(8)
    server = Server(tmp_path, env={"NETLENS_WARM": "1", "NETLENS_ADMIN_PASSWORD": password,
                                     "NETLENS_MAX_POINTS_CPU": "500"}, start_timeout=90)
    try:
        out = run_in_own_loop(lambda: _warm_then_visit(server.base, password, warm_timeout=600))
    finally:
        server.stop()
    before, after = out["before"], out["after"]
    assert before.get("Warm-up") == "ready", f"warm-up did not finish: {before.get('Warm-up')!r}\n{server.log_tail()}"
    trained_before = jobs_run(before["registries"]["train"])
    assert trained_before == 3  # logistic regression, MLP, convnet
    assert jobs_run(before["registries"]["tsne"]) >= 1  # the default maps
    assert out["ok"] and not out["errors"], out["errors"]
    assert not out["waiting"], "the visitor was told the default models were still training"
    assert jobs_run(after["registries"]["train"]) == trained_before  # no training started for the visitor
