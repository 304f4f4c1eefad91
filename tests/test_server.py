"""dashboard/core/server.py: how many worker processes (NETLENS_WORKERS), the in-thread back end,
and the training loop leaving a worker's torch thread count alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.compute import tasks, workers
from analysis.datasets import Split, load_dataset
from analysis.models import ModelConfig, build_model
from analysis.train import TrainConfig, loop, train
from dashboard.core import server


@pytest.mark.parametrize("env, expected", [({}, 1), ({"NETLENS_WORKERS": "3"}, 3), ({"NETLENS_WORKERS": " 0 "}, 0)])
def test_worker_count(env, expected):
    assert server.worker_count(env) == expected


@pytest.mark.parametrize("raw", ["two", "-1", "1.5"])
def test_a_bad_worker_count_says_what_to_do(raw):
    with pytest.raises(ValueError, match="NETLENS_WORKERS must be a whole number"):
        server.worker_count({"NETLENS_WORKERS": raw})


def test_zero_workers_run_jobs_in_threads_and_more_in_processes():
    assert isinstance(server.make_executor(0), tasks.InlineExecutor)
    ex = server.make_executor(2)
    try:
        assert isinstance(ex, workers.ProcessExecutor) and ex.max_workers == 2 and ex.threads_per_worker >= 1
    finally:
        ex.shutdown()


@pytest.mark.parametrize("in_worker, expected", [(False, 2), (True, 1)])
def test_the_loop_leaves_a_workers_thread_count_alone(monkeypatch, in_worker, expected):
    digits = load_dataset("digits")
    idx = np.random.default_rng(0).permutation(len(digits.labels))
    split = Split(train=idx[:100], val=idx[100:150], test=idx[150:200])
    model = build_model(ModelConfig(hidden=(8,)), digits.image_shape, digits.n_classes)
    monkeypatch.setattr(loop, "cpu_threads_per_job", lambda: 2)
    if in_worker:
        monkeypatch.setenv(workers.IN_WORKER_ENV, "1")
    else:
        monkeypatch.delenv(workers.IN_WORKER_ENV, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # what a worker's set-up did
    try:
        train(model, digits, split, TrainConfig(epochs=1, device="cpu"))
        assert torch.get_num_threads() == expected
    finally:
        torch.set_num_threads(before)
