"""Checks shared by the embedding functions: features as a finite matrix, seeds,
perplexity. Errors say what was expected, what came and how to fix it."""
from __future__ import annotations

import math

import numpy as np


def as_matrix(features, name: str = "features", min_rows: int = 1) -> np.ndarray:
    """Return ``features`` as a finite float64 2-D array, or raise ValueError."""
    if features is None:
        raise ValueError(
            f"{name} must be a 2-D array (n points x d values); got None. "
            "Pass a NumPy array, e.g. the flattened images or a layer's output."
        )
    try:
        arr = np.asarray(features)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(
            f"{name} must be a 2-D numeric array (n points x d values); could not "
            f"convert it ({exc}). Pass rows of equal length."
        ) from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == bool
    ):
        raise ValueError(
            f"{name} must hold numbers; got dtype {arr.dtype}. Convert it to floats "
            "first (e.g. np.asarray(x, dtype=float))."
        )
    if np.iscomplexobj(arr):
        raise ValueError(
            f"{name} must hold real numbers; got complex dtype {arr.dtype}. "
            "Pass the real part or the magnitude."
        )
    if arr.ndim != 2:
        hint = (
            "Flatten each point to one row, e.g. x.reshape(len(x), -1)."
            if arr.ndim > 2
            else "Pass one row per point, e.g. x.reshape(-1, 1) for one value per point."
        )
        raise ValueError(
            f"{name} must be 2-D (n points x d values); got {arr.ndim}-D with "
            f"shape {arr.shape}. {hint}"
        )
    n, d = arr.shape
    if d < 1:
        raise ValueError(
            f"{name} must have at least one value per point; got shape {arr.shape}."
        )
    if n < min_rows:
        raise ValueError(
            f"{name} must have at least {min_rows} points (rows); got {n}. "
            "Use a larger sample."
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(
            f"{name} must be finite; {bad} of {n} rows contain NaN or infinity. "
            "Drop or fix those rows (e.g. a diverged model produces NaN "
            "activations: retrain it with a smaller learning rate)."
        )
    return arr


def as_seed(random_state) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ValueError(
            f"random_state must be a whole number (a seed) or None; got "
            f"{random_state!r}. The same seed gives the same map."
        )
    if not 0 <= random_state < 2**32:
        raise ValueError(f"random_state must be between 0 and 2**32 - 1; got {random_state}.")
    return int(random_state)


def max_perplexity(n_points: int) -> float:
    """Largest perplexity (one decimal) ``tsne`` accepts for ``n_points``
    points: it needs 3 x perplexity < n_points."""
    return math.floor((n_points / 3.0) * 10 - 1e-9) / 10


def check_perplexity(perplexity, n: int) -> float:
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float, np.number)):
        raise ValueError(
            f"perplexity must be a number (typically 5-50); got {perplexity!r}."
        )
    p = float(perplexity)
    if not math.isfinite(p) or p < 1:
        raise ValueError(
            f"perplexity must be a finite number >= 1 (typically 5-50); got {perplexity!r}."
        )
    if 3 * p >= n:
        raise ValueError(
            f"perplexity={p:g} is too large for {n} points: t-SNE needs "
            f"3 x perplexity < number of points, so the largest perplexity "
            f"allowed for {n} points is {max_perplexity(n):g}. Lower the "
            f"perplexity or use more points (at least {math.floor(3 * p) + 1})."
        )
    return p

