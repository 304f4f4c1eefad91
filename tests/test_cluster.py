"""The cluster back end (analysis.compute.cluster.executor.RayExecutor) on a REAL local Ray head (tests/conftest.py's
`ray_head`): two app servers asking at once make one Ray job and both get the model (with its
recording); a finished result is reused after a restart without a new job; Stop from every
watcher stops the job, and until then every epoch's progress (curves and a weights snapshot)
reaches the watchers. The same seed on the cluster and on this machine, and two real Streamlit
servers: tests/test_cluster_servers.py. A job that no lease keeps alive stopping itself:
tests/test_cluster_cli.py."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from analysis.compute.cluster.executor import ClusterConfig, RayExecutor
from analysis.compute.cluster.plans import train_plan
from analysis.compute.store import Store
from analysis.models import ModelConfig
from analysis.train import TrainConfig
from tests.helpers import jobs_for, wait_until

pytestmark = pytest.mark.slow  # a real Ray head (~15 s to start) and real trainings; they run in CI


def executor(head, store_dir, lease_s: float = 30.0) -> RayExecutor:
    return RayExecutor(ClusterConfig(address=head.address, lease_s=lease_s), Store(str(store_dir)))


def in_thread(fn, *args):
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args)
        except Exception as e:  # noqa: BLE001 - reported by the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


SMALL = {"dataset": "digits", "model_config": ModelConfig(hidden=(16,)), "train_config": TrainConfig(epochs=3, seed=2)}


def test_two_servers_asking_at_once_make_one_job_and_a_restart_reuses_it(ray_head, tmp_path):
    a, b = executor(ray_head, tmp_path), executor(ray_head, tmp_path)  # two app servers, one store
    key = train_plan(a, dict(SMALL)).key
    before = len(jobs_for(a, key))
    runs = [in_thread(ex.run, "train", dict(SMALL)) for ex in (a, b)]
    for t, _ in runs:
        t.join(300)
    results = [out.get("value") for _, out in runs]
    assert all(r is not None for r in results), [out.get("error") for _, out in runs]
    assert results[0].test_accuracy == results[1].test_accuracy
    assert all(r.split is not None and r.recording is not None for r in results)  # the recording comes back
    assert len(jobs_for(a, key)) - before == 1 and len(a.submitted) + len(b.submitted) == 1
    restarted = executor(ray_head, tmp_path)  # a new server process, the same store (its speed, bar 10 s, is
    again = restarted.run("train", dict(SMALL))  # benchmarks/cluster_watch.py's REUSE)
    assert again.test_accuracy == results[0].test_accuracy
    assert restarted.submitted == [] and len(jobs_for(a, key)) - before == 1


def _wait_status(ex: RayExecutor, sid: str, wanted: tuple, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = str(ex.client().get_job_info(sid).status.value)
        if status in wanted:
            return status
        time.sleep(0.5)
    return status


def test_stop_from_every_watcher_stops_the_job(ray_head, tmp_path):
    # Three wide hidden layers: ~7x the default MLP's work per epoch, so the 50 epochs outlast the
    # test on a fast CPU too (one 256-unit layer finished before the second watcher's Stop was checked).
    long = {"dataset": "mnist5k", "model_config": ModelConfig(hidden=(1024, 1024, 1024)),
            "train_config": TrainConfig(epochs=50, seed=3)}
    a, b = executor(ray_head, tmp_path), executor(ray_head, tmp_path)
    stop = {"a": threading.Event(), "b": threading.Event()}
    epochs, seen = threading.Event(), []

    def report(p, m, latest=None):
        if m and m.startswith("epoch"):
            seen.append((time.time(), latest))
            epochs.set()
    ta, out_a = in_thread(lambda: a.run("train", dict(long), report, stop["a"].is_set))
    tb, out_b = in_thread(lambda: b.run("train", dict(long), report, stop["b"].is_set))
    assert epochs.wait(120), "no epoch finished on the cluster"
    wait_until(lambda: len(seen) >= 3, 300, "three epochs reaching the watchers", every=0.1)
    sid = (a.submitted + b.submitted)[0]
    stop["a"].set()
    ta.join(10)
    assert not ta.is_alive() and out_a == {"value": None}
    heard = len(seen)  # server b still watches it: the job goes on, and its next epoch reaches b
    wait_until(lambda: len(seen) > heard, 120, "an epoch after server a's Stop", every=0.1)
    assert str(a.client().get_job_info(sid).status.value) == "RUNNING"
    stop["b"].set()
    tb.join(10)
    assert not tb.is_alive() and out_b == {"value": None}
    assert _wait_status(a, sid, ("STOPPED", "FAILED", "SUCCEEDED"), 20) == "STOPPED"
    assert a.store.get(sid) is None  # a stopped job leaves no result to reuse
    assert all(latest["state"] is not None and latest["rows"] for _, latest in seen)  # what Stop keeps
    assert len(seen) >= 3  # how soon each epoch reaches the watchers (bar 2 s): benchmarks/cluster_watch.py's RELAY


def test_a_replay_runs_on_the_cluster_and_its_stopped_result_is_shared(ray_head, tmp_path):
    """Over training on the cluster back end: the recording travels through the store, the frames are
    computed by a Ray job (python -m analysis.compute.cluster.maps --replay), Stop ("finish") keeps the frames so far
    as a complete result in the store, which another server reuses without a job; the frames are the
    ones this machine computes."""
    from analysis.replay import ReplayConfig, replay

    a, b = executor(ray_head, tmp_path), executor(ray_head, tmp_path)
    trained = a.run("train", {**SMALL, "train_config": TrainConfig(epochs=10, seed=2)})
    recording = trained.recording
    assert recording is not None and recording.n_frames == 11  # before training, then 10 epochs
    # Frames of ~1-2 s each: whatever the relay's delay, Stop (pressed once two frames are seen) reaches the
    # job well before its last frame.
    kwargs = {"recording": recording, "layer": "logits", "config": ReplayConfig(first_iter=100, step_iter=1000)}
    seen = []

    def report(p, m, latest=None):
        if latest is not None:
            seen.append(latest)
    out = a.run("replay", dict(kwargs), report, None, should_finish=lambda: len(seen) >= 2)
    result = out["result"]
    assert [k for k in a.submitted if k.startswith("replay-")], a.submitted  # a Ray job of its own
    assert result.stopped_at is not None and 2 <= result.stopped_at < 11, result.status
    assert result.status == f"stopped at frame {result.stopped_at} of 11"
    assert result.coords.shape == (result.stopped_at, recording.n_points, 2)
    assert seen[0]["frame"] == 1 and seen[0]["coords"].shape == (recording.n_points, 2)
    assert set(out["knn"]) == set(recording.layer_names)
    again = b.run("replay", dict(kwargs))  # another app server: the stored (stopped) result, no new job
    assert b.submitted == [] and np.array_equal(again["result"].coords, result.coords)
    k = result.stopped_at  # the same first k frames on this machine
    here = replay(recording, "logits", kwargs["config"], on_progress=lambda frame, total, maps: frame < k)
    assert here.stopped_at == k and np.allclose(here.coords, result.coords, atol=1e-4)
