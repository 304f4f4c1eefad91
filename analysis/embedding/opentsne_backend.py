"""The CPU back end: openTSNE (exact neighbours, FFT-accelerated gradients, the idle cores)."""
from __future__ import annotations

import logging
import math
import os
import time

import numpy as np

from analysis.checks import check_int

log = logging.getLogger(__name__)

# openTSNE settings for the CPU back end, chosen on 2,000 and 5,000 MNIST
# digits, raw and a hidden layer (benchmarks/README.md, "Embedding").
# Gradients: FFT-accelerated interpolation with a coarser grid than openTSNE's
# default (2 units per interval instead of 1, at least 20 intervals instead of
# 50): ~5x cheaper per iteration at the same trustworthiness on these sizes.
OPENTSNE_PARAMS = dict(
    negative_gradient_method="fft",
    ints_in_interval=2.0,
    min_num_intervals=20,
    n_interpolation_points=3,
    learning_rate="auto",  # n / exaggeration (Belkina et al., 2019)
    initial_momentum=0.8,
    final_momentum=0.8,
    max_step_norm=5.0,
)
OPENTSNE_MIN_POINTS_PER_THREAD = 1_000  # below this many points: one thread
OPENTSNE_NEIGHBORS = "exact"  # scikit-learn k-NN: deterministic, and fast at <= 20,000 x 50


def busy_cores(window: float = 0.1, stat_path: str = "/proc/stat") -> float | None:
    """How many cores are busy right now (all processes, from /proc/stat over
    ``window`` seconds, while this thread sleeps); None where unreadable."""

    def snapshot():
        with open(stat_path) as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + (values[4] if len(values) > 4 else 0)

    try:
        total0, idle0 = snapshot()
        time.sleep(window)
        total1, idle1 = snapshot()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    busy = 1.0 - (idle1 - idle0) / (total1 - total0)
    return max(0.0, busy) * (os.cpu_count() or 1)


def choose_n_jobs(n_points: int, n_jobs: int | None = None) -> int:
    """Threads for openTSNE (the map is the same for any thread count).

    ``n_jobs`` when given (a whole number >= 1). Otherwise one below OPENTSNE_MIN_POINTS_PER_THREAD points
    (threads do not pay off);
    otherwise every core this process may use, minus the cores that are busy
    right now, at least one. openTSNE's threads (like scikit-learn's) meet at
    a barrier many times per iteration, so on a busy machine one descheduled
    thread stalls the others: 2 threads then ran 2-5x slower than 1 (see
    benchmarks/README.md, "Embedding")."""
    if n_jobs is not None:
        return check_int(n_jobs, "n_jobs", 1, hint="Or None: the idle cores.")
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        cores = max(1, os.cpu_count() or 1)
    if cores == 1 or n_points < OPENTSNE_MIN_POINTS_PER_THREAD:
        return 1
    busy = busy_cores()
    if busy is None:
        return cores
    # a core counts as taken once a quarter of it is busy
    return max(1, min(cores, cores - math.ceil(busy - 0.25)))


def run(z, init, perplexity, n_iter, n_ee, exaggeration, seed, on_progress, every, n_jobs=None):
    """openTSNE from `init`: n_ee iterations with `exaggeration`, then the rest without."""
    from openTSNE import TSNEEmbedding, affinity
    from openTSNE.tsne import OptimizationInterrupt

    n_jobs = choose_n_jobs(len(z), n_jobs)
    log.info("t-SNE: openTSNE on %d points with %d thread(s)", len(z), n_jobs)
    aff = affinity.PerplexityBasedNN(
        z,
        perplexity=perplexity,
        method=OPENTSNE_NEIGHBORS,
        n_jobs=n_jobs,
        random_state=seed,
    )
    params = dict(OPENTSNE_PARAMS)
    momenta = (params.pop("initial_momentum"), params.pop("final_momentum"))
    offset = [0]

    def callback(iteration, _error, embedding):
        # openTSNE: a callback returning True stops the optimisation. Ours:
        # on_progress returning False stops.
        keep_going = on_progress(offset[0] + iteration, np.array(embedding, dtype=np.float32))
        return keep_going is False

    embedding = TSNEEmbedding(
        init,
        aff,
        n_jobs=n_jobs,
        random_state=seed,
        callbacks=callback if on_progress is not None else None,
        callbacks_every_iters=every,
        **params,
    )
    phases = [(n_ee, exaggeration, momenta[0]), (n_iter - n_ee, None, momenta[1])]
    try:
        for length, exaggeration, momentum in phases:
            if length > 0:
                embedding.optimize(
                    n_iter=length,
                    exaggeration=exaggeration,
                    momentum=momentum,
                    inplace=True,
                    propagate_exception=True,
                )
            offset[0] += length
    except OptimizationInterrupt as stop:
        return np.array(stop.final_embedding, dtype=np.float32)
    return np.array(embedding, dtype=np.float32)
