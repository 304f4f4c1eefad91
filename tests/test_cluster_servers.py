"""Two REAL Streamlit servers on one REAL local Ray head and one shared store (the cluster back end):
sessions on both press Train with the default settings → exactly one training job for that
configuration on the cluster (counted with list_jobs by its job key), every session sees the
curve grow and gets the model, with the test accuracy this machine gets with the same seed; after
both servers restart, Train is answered from the store with no new job."""
from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("websockets")

from analysis.compute import tasks  # noqa: E402
from analysis.compute.cluster.executor import ClusterConfig, RayExecutor  # noqa: E402
from analysis.compute.cluster.plans import train_plan  # noqa: E402
from analysis.compute.store import Store  # noqa: E402
from analysis.models import ModelConfig  # noqa: E402
from analysis.train import TrainConfig  # noqa: E402
from tests.helpers import (
    SHOWN_METRIC,
    run_in_own_loop,  # noqa: E402
)
from tests.servers import (  # noqa: E402
    TRAINED_METRIC,
    Server,  # noqa: E402
    Student,
    start_servers,  # noqa: E402
)

pytestmark = pytest.mark.slow  # two servers, a Ray head and a real training: about 1.5 min; runs in CI
DEFAULTS = {"dataset": "mnist5k", "model_config": ModelConfig(), "train_config": TrainConfig()}


async def _train(s: Student, timeout: float) -> dict:
    """Open Training, press Train with the defaults; what the session saw."""
    await s.connect()
    ok = await s.wait(await s.goto("train"), lambda x: x.widget("button", "Train"), 90, "Training")
    if not ok:
        return {"ok": False}
    seq = await s.rerun([s.trigger(s.widget("button", "Train"))])
    curve = await s.wait(seq, lambda x: x.has("progress", "epoch") or x.has("metric", TRAINED_METRIC), 120,
                         "training under way")
    saw_epoch = s.has("progress", "epoch")
    done = curve and await s.wait(seq, lambda x: x.has("metric", TRAINED_METRIC), timeout, "the trained model")
    shown = next((e.text for e in s.ordered() if e.kind == "metric" and e.text.startswith(SHOWN_METRIC)), "")
    return {"ok": bool(done), "saw_epoch": saw_epoch, "score": shown.rpartition(": ")[2]}


async def _sessions(servers: list[Server], per_server: int, timeout: float) -> list[dict]:
    students = [Student(srv.base, i + 1) for srv in servers for i in range(per_server)]
    try:
        out = await asyncio.gather(*(_train(s, timeout) for s in students))
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    for o, s in zip(out, students):
        o["errors"] = s.errors
    return out


def test_two_servers_train_the_defaults_once_and_a_restart_reuses_it(ray_head, tmp_path):
    store_dir = tmp_path / "store"
    env = {"NETLENS_RAY_ADDRESS": ray_head.address, "NETLENS_STORE": str(store_dir), "NETLENS_WARM": "0",
           "NETLENS_WORKERS": "0", "NETLENS_RAY_INSECURE": "1"}  # the test's head listens on 127.0.0.1 only
    probe = RayExecutor(ClusterConfig(address=ray_head.address), Store(str(store_dir)))
    key = train_plan(probe, dict(DEFAULTS)).key
    count = lambda: sum(1 for j in probe.client().list_jobs()  # noqa: E731
                        if j.submission_id == key or str(j.submission_id).startswith(key + "-"))
    before = count()
    servers = start_servers(2, tmp_path, env)
    local: dict = {}
    meanwhile = threading.Thread(target=lambda: local.update(t=tasks.InlineExecutor().run("train", dict(DEFAULTS))))
    meanwhile.start()  # this machine's training with the same seed, for the comparison
    try:
        first = run_in_own_loop(lambda: _sessions(servers, 2, 300))
    finally:
        for s in servers:
            s.stop()
    meanwhile.join(600)
    assert all(o["ok"] for o in first), [o["errors"] for o in first]
    assert count() - before == 1  # one training for the whole cluster
    assert sum(o["saw_epoch"] for o in first) >= 3, first  # the live curve, on both servers
    expected = f"{local['t'].val_accuracy:.1%}"
    assert [o["score"] for o in first] == [expected] * 4  # the same seed gives the same validation accuracy
    from analysis.recording import load_with_recording

    on_cluster, recording = load_with_recording(probe.store.get(key)["model.safetensors"])
    assert on_cluster.test_accuracy == local["t"].test_accuracy and recording is not None

    servers = start_servers(2, tmp_path, env)  # both restart, the same store
    try:
        again = run_in_own_loop(lambda: _sessions(servers, 1, 60))
    finally:
        for s in servers:
            s.stop()
    assert all(o["ok"] for o in again) and [o["score"] for o in again] == [expected] * 2, again
    assert count() - before == 1  # reused from the store: no new job
