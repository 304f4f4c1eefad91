"""Which points to show: stratified samples and the page's slider range."""
from __future__ import annotations

import numpy as np

from analysis.checks import check_int
from analysis.embedding.checks import as_seed


def stratified_sample(labels, n: int, random_state: int = 0) -> np.ndarray:
    """Indices (sorted, int64) of ``n`` points drawn without replacement so each
    label keeps its share (largest-remainder rounding). ``n`` is capped at
    ``len(labels)``; the same seed gives the same sample."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D (one label per point); got shape {y.shape}.")
    n = check_int(n, "n", 1)
    total = len(y)
    if total == 0:
        raise ValueError("labels is empty: there is nothing to sample from.")
    n = min(n, total)
    if n == total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng(as_seed(random_state))
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * n / total
    take = np.floor(quota).astype(np.int64)
    short = n - int(take.sum())
    if short:
        # largest remainders first; ties broken at random (seeded)
        order = np.lexsort((rng.random(len(classes)), -(quota - take)))
        take[order[:short]] += 1
    chosen = [
        rng.choice(np.flatnonzero(inverse == c), size=int(t), replace=False)
        for c, t in enumerate(take)
        if t
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def sample_size_bounds(
    n_available: int, gpu: bool, cpu_cap: int = 5_000, gpu_cap: int = 20_000
) -> tuple[int, int, int]:
    """(smallest, default, largest) number of points to offer for a map:
    min(500, n), min(2,000, n) and min(cap, n), where the cap is ``gpu_cap``
    with a GPU and ``cpu_cap`` without (t-SNE cost grows with n)."""
    n_available = check_int(n_available, "n_available", 1)
    cap = check_int(gpu_cap if gpu else cpu_cap, "cap", 1)
    hi = min(cap, n_available)
    lo = min(500, hi)
    return lo, min(2_000, hi), hi
