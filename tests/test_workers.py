"""analysis.compute.workers and analysis.compute.tasks: jobs in worker processes.

One executor (one worker process) is shared by the module's tests: starting one imports
torch (seconds). Every wait is bounded: a hang fails the test instead of stalling it.
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from analysis.compute import tasks, workers
from analysis.compute.jobs import JobRegistry
from analysis.compute.tasks import InlineExecutor
from analysis.compute.workers import ProcessExecutor, UnknownTask, WorkerDied
from analysis.models import ModelConfig
from analysis.train import TrainConfig, TrainedModel, from_snapshot
from tests.helpers import process_gone, wait_until

T = 60.0  # generous: a worker start imports torch on a busy machine


@pytest.fixture(scope="module")
def executor():
    ex = ProcessExecutor(max_workers=1, threads_per_worker=1)
    yield ex
    ex.shutdown()


def in_thread(fn, timeout=T):
    """Run fn() in a thread; return (result, exception); fail if it does not end within timeout."""
    out = {}

    def target():
        try:
            out["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"still running after {timeout} s: a hang"
    return out.get("result"), out.get("error")


def test_task_runs_in_a_worker_and_progress_arrives_in_order(executor):
    got = []
    result, error = in_thread(lambda: executor.run("count", {"n": 20, "delay_s": 0.001},
                                                   on_progress=lambda *a: got.append(a)))
    assert error is None
    assert result["steps"] == 20 and not result["stopped"]
    assert result["pid"] != os.getpid() and result["pid"] in executor.pids()
    assert result["torch_threads"] == 1  # set once in the worker's set-up, not by the task
    assert [a[0] for a in got] == [i / 20 for i in range(1, 21)]
    assert [a[1] for a in got] == [f"step {i} of 20" for i in range(1, 21)]
    assert [a[2]["step"] for a in got] == list(range(1, 21))


def _nice(pid) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])  # field 19: nice


def test_workers_run_at_a_lower_cpu_priority_than_the_server(executor):
    result, error = in_thread(lambda: executor.run("count", {"n": 1}))
    assert error is None
    assert _nice(result["pid"]) == min(19, _nice("self") + workers.NICENESS) > _nice("self")


def test_worker_is_reused_between_jobs(executor):
    first, _ = in_thread(lambda: executor.run("count", {"n": 1}))
    second, _ = in_thread(lambda: executor.run("count", {"n": 1}))
    assert first["pid"] == second["pid"]


def test_stop_makes_the_task_end_early(executor):
    seen = []
    result, error = in_thread(lambda: executor.run("count", {"n": 10_000, "delay_s": 0.002},
                                                   on_progress=lambda *a: seen.append(a[2]["step"]),
                                                   should_stop=lambda: len(seen) >= 3))
    assert error is None
    assert result["stopped"] and 3 <= result["steps"] < 10_000


def test_stop_kills_a_task_that_does_not_wind_down(executor, monkeypatch):
    monkeypatch.setattr(executor, "stop_grace_s", 0.5)
    _, error = in_thread(lambda: executor.run("count", {"n": 2, "delay_s": 120, "ignore_stop": True},
                                              should_stop=lambda: True), timeout=30)  # a task of 240 s: killed
    assert isinstance(error, WorkerDied) and str(error).startswith("Stopped: the job did not wind down within 0.5 s")
    result, error = in_thread(lambda: executor.run("count", {"n": 1}))
    assert error is None and result["steps"] == 1


def test_task_error_is_raised_again_and_the_worker_survives(executor):
    before = executor.pids()
    _, error = in_thread(lambda: executor.run("count", {"n": 5, "fail_at": 2}))
    assert isinstance(error, ValueError) and str(error) == "Failed at step 2 of 5, as asked."
    assert "In the worker process" in str(error.__cause__)
    assert executor.pids() == before


def test_killed_worker_raises_worker_died_and_the_next_run_uses_a_fresh_one(executor):
    pids = []

    def on_progress(progress, message, latest):
        pids.append(latest["pid"])
        if len(pids) == 2:
            os.kill(latest["pid"], signal.SIGKILL)

    _, error = in_thread(lambda: executor.run("count", {"n": 100_000, "delay_s": 0.005}, on_progress=on_progress),
                         timeout=30)  # the task alone would take 500 s
    assert isinstance(error, WorkerDied)
    assert "stopped unexpectedly (signal 9" in str(error)
    assert pids[0] not in executor.pids()
    result, error = in_thread(lambda: executor.run("count", {"n": 2}))
    assert error is None and result["steps"] == 2 and result["pid"] != pids[0]


def test_worker_killed_while_idle_is_replaced(executor):
    old = executor.start()
    assert old
    os.kill(old[0], signal.SIGKILL)
    wait_until(lambda: process_gone(old[0]), T, f"worker {old[0]} ending after SIGKILL")
    result, error = in_thread(lambda: executor.run("count", {"n": 1}))
    assert error is None and result["pid"] != old[0]


def test_only_allow_listed_tasks_run(executor):
    for bad in ("os:system", "analysis.compute.tasks:train", "../train", None, print):
        with pytest.raises(UnknownTask, match="expected one of count, finetune, project, replay, train"):
            executor.run(bad, {})
    with pytest.raises(UnknownTask):
        InlineExecutor().run("eval", {})


def test_a_waiting_run_ends_when_stopped_before_a_worker_is_free(executor):
    release = threading.Event()
    busy = threading.Thread(target=lambda: executor.run("count", {"n": 100_000, "delay_s": 0.002},
                                                        should_stop=release.is_set), daemon=True)
    busy.start()
    wait_until(lambda: executor.stats()["workers"] and executor.stats()["workers"][0]["busy"], T, "the worker busy")
    result, error = in_thread(lambda: executor.run("count", {"n": 1}, should_stop=lambda: True), timeout=10)
    assert result is None and error is None
    release.set()
    busy.join(T)
    assert not busy.is_alive()


def test_through_the_job_registry_with_job_report(executor):
    reg = JobRegistry()
    job = reg.submit("k", "count", lambda job: executor.run("count", {"n": 3, "delay_s": 0.001},
                                                            on_progress=job.report, should_stop=job.should_stop), "s1")
    assert job.wait(T)
    assert job.status == "done" and job.result["steps"] == 3 and job.latest["step"] == 3


# ---------------------------------------------------------------- the real tasks

def test_train_task_in_a_worker_matches_the_page(executor):
    mc, tc = ModelConfig(kind="logreg"), TrainConfig(epochs=2, seed=0, device="cpu")
    got = []
    trained, error = in_thread(lambda: executor.run("train", dict(dataset="digits", model_config=mc, train_config=tc),
                                                    on_progress=lambda *a: got.append(a)))
    assert error is None
    assert isinstance(trained, TrainedModel) and len(trained.history.rows) == 2
    assert [a[1] for a in got] == ["epoch 0 of 2", "epoch 1 of 2", "epoch 2 of 2"]
    last = got[-1][2]
    assert [r["epoch"] for r in last["rows"]] == [1, 2] and got[0][2]["state"] is None
    # Stop keeps the last epoch: the snapshot rebuilds the same model as the result
    from analysis.datasets import load_dataset

    rebuilt = from_snapshot(load_dataset("digits"), mc, tc, last["split"], last["state"], last["rows"])
    assert rebuilt.test_accuracy == pytest.approx(trained.test_accuracy)
    in_thread_model = tasks.train(lambda *a: None, lambda: False, dataset="digits", model_config=mc, train_config=tc)
    assert in_thread_model.test_accuracy == pytest.approx(trained.test_accuracy)  # same seed, same numbers


def test_project_task_tsne_previews_and_pca():
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = d.data[:300].astype(np.float32), d.target[:300]
    previews = []
    out = InlineExecutor().run("project", dict(features=x, labels=y, method="tsne", perplexity=10, n_iter=100,
                                               seed=0), on_progress=lambda *a: previews.append(a))
    assert out["coords"].shape == (300, 2) and out["explained"] is None
    assert previews and previews[-1][2].shape == (300, 2) and previews[-1][1].startswith("iteration ")
    assert out["metrics"]["k-NN accuracy, original (k=5)"] > 0.8
    stopped = tasks.project(lambda *a: None, lambda: True, features=x, labels=y, perplexity=10, n_iter=400, seed=0)
    assert stopped["coords"].shape == (300, 2)
    pca = tasks.project(lambda *a: None, lambda: False, features=x, labels=y, method="pca")
    assert pca["explained"].shape == (2,) and 0 < pca["metrics"]["trustworthiness (k=10)"] <= 1


def test_estimates_for_the_budget():
    from analysis.datasets import load_dataset

    ds = load_dataset("digits")
    small = tasks.training_estimate(ds, ModelConfig(kind="logreg"), TrainConfig())
    big = tasks.training_estimate(ds, ModelConfig(kind="mlp", hidden=(1024, 1024)), TrainConfig())
    assert 0 < small < big
    assert tasks.map_estimate(5000, 784) > tasks.map_estimate(500, 784)


def test_two_workers_run_two_jobs_at_once_and_a_third_waits_its_turn():
    ex = ProcessExecutor(max_workers=2, tasks={"count": "analysis.compute.tasks:count"})
    try:
        release, heard, last = threading.Event(), [], []
        runs = [threading.Thread(target=lambda: heard.append(ex.run("count", {"n": 100_000, "delay_s": 0.002},
                                                                     should_stop=release.is_set)), daemon=True)
                for _ in range(2)]
        for t in runs:
            t.start()
        wait_until(lambda: sum(w["busy"] for w in ex.stats()["workers"]) == 2, T, "two busy workers")
        waiting = []
        third = threading.Thread(target=lambda: last.append(ex.run("count", {"n": 1},
                                                                    on_progress=lambda *a: waiting.append(a))))
        third.start()
        wait_until(lambda: waiting, T, "the third run waiting")
        assert waiting[0] == (None, "waiting for a free worker process") and ex.stats()["waiting"] == 1
        release.set()
        for t in runs + [third]:
            t.join(T)
        assert len(heard) == 2 and len({r["pid"] for r in heard}) == 2 and all(r["stopped"] for r in heard)
        assert last[0]["steps"] == 1 and last[0]["pid"] in {r["pid"] for r in heard}  # reused one of them
        assert ex.stats()["started_total"] == 2
    finally:
        ex.shutdown()


def test_shutdown_stops_the_workers():
    executor = ProcessExecutor(max_workers=1, threads_per_worker=1)  # its own: the module's stays usable
    pids = executor.start()
    assert pids
    executor.shutdown(timeout=5)
    for pid in pids:
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, f"worker {pid} gone after shutdown")
    with pytest.raises(RuntimeError, match="shut down"):
        executor.run("count", {"n": 1})


def test_as_job_waits_for_memory_with_its_place_shown_then_runs():
    from analysis.compute.budget import MemoryBudget

    memory = MemoryBudget(100)
    blocker = memory.try_reserve(80, "someone", "a big photo")
    reg = JobRegistry()
    fn = tasks.as_job(InlineExecutor(), "count", {"n": 3, "delay_s": 0.001}, memory=memory, nbytes=50,
                      holder="s1", label="counting")
    job = reg.submit("k", "count", fn, "s1")
    wait_until(lambda: job.message == "waiting for memory: place 1 in line", 10, "a place in the memory line")
    assert job.status == "running" and memory.stats()["waiting"][0]["holder"] == "s1"
    blocker.release()
    assert job.wait(10)
    assert job.status == "done" and job.result["steps"] == 3 and memory.reserved_bytes == 0
    too_big = reg.submit("k2", "count", tasks.as_job(InlineExecutor(), "count", {}, memory=memory, nbytes=101), "s1")
    assert too_big.wait(10) and too_big.status == "failed"
    assert too_big.error.startswith("This needs more memory than the server has")
    with pytest.raises(UnknownTask):
        tasks.as_job(InlineExecutor(), "eval", {})
