"""New points on an existing 2-D map, without refitting it.

A map (t-SNE from openTSNE or the PyTorch back end, a cluster job's coordinates, PCA) is kept as bare
coordinates: one row per map point. To show new points on it (the room's digits among MNIST's), each
new point is put at the **distance-weighted mean of its k nearest map points**, the neighbours found in
the layer's own feature space (the same features the map was computed from: a hidden layer's outputs,
or the raw pixels). One method for every back end, because it needs only what every back end returns:
the map's coordinates, and the features the page already has.

What it promises: a point that sits among the map's 7s in the layer's space lands among the map's 7s on
the map (t-SNE keeps near neighbours near); it does not promise a spot a refit would give (t-SNE has no
such spot: a refit moves everything).

Pure Python (NumPy); errors are ValueErrors saying what was expected, what came and how to fix it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PlacementConfig", "place", "nearest", "land_among"]

WEIGHTINGS = ("distance", "uniform")
CHUNK = 512  # new points per block of the distance matrix (block × map points floats at a time)


@dataclass(frozen=True)
class PlacementConfig:
    """k: how many nearest map points a new point is placed among; weighting: "distance" (a
    neighbour counts 1 / its distance, so a near twin pulls hardest; an exact twin decides alone) or
    "uniform" (the plain mean)."""
    k: int = 10
    weighting: str = "distance"

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"Expected k, the number of neighbours, as a whole number of at least 1; got "
                             f"{self.k!r}. Use e.g. k=10.")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"Expected weighting 'distance' or 'uniform'; got {self.weighting!r}. Pick one of them.")


def _matrix(x, name: str, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"Expected {name} as an array of numbers; got {type(x).__name__}. Pass a NumPy array.")
    if a.ndim == 1 and cols is not None and a.size == cols:
        a = a[None]
    if a.ndim > 2:
        a = a.reshape(len(a), -1)
    if a.ndim != 2:
        raise ValueError(f"Expected {name} as a 2-D array (one row per point); got shape {a.shape}. Reshape it.")
    if rows is not None and len(a) != rows:
        raise ValueError(f"Expected {name} to have {rows} rows (one per map point); got {len(a)}. Pass the "
                         "features the map was computed from, in the map's order.")
    if cols is not None and a.shape[1] != cols:
        raise ValueError(f"Expected {name} with {cols} numbers per point (the map's feature space); got "
                         f"{a.shape[1]}. Use the same layer of the same model as the map.")
    if not np.isfinite(a).all():
        raise ValueError(f"Expected {name} to hold finite numbers; it holds NaN or infinity. Drop those rows.")
    return a


def nearest(map_features, new_features, k: int, leave_out=None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), each (m, k): every new point's k nearest map points in feature space,
    nearest first (Euclidean). ``leave_out``: one map index per new point that it must not count
    (a map point placed again without itself), or None."""
    ref = _matrix(map_features, "the map's features")
    new = _matrix(new_features, "the new points' features", cols=ref.shape[1])
    skip = None if leave_out is None else np.asarray(leave_out, dtype=np.int64).reshape(-1)
    if skip is not None and len(skip) != len(new):
        raise ValueError(f"Expected leave_out with one map index per new point ({len(new)}); got {len(skip)}.")
    extra = 0 if skip is None else 1
    if k + extra > len(ref):
        raise ValueError(f"Expected k ({k}) at most the number of map points ({len(ref) - extra} usable); "
                         "lower k or use a bigger map.")
    ref_sq = (ref * ref).sum(1)
    idx = np.empty((len(new), k), np.int64)
    dist = np.empty((len(new), k))
    for lo in range(0, len(new), CHUNK):
        block = new[lo:lo + CHUNK]
        size = (block * block).sum(1)[:, None] + ref_sq[None]
        d2 = size - 2.0 * block @ ref.T
        d2[d2 <= 1e-12 * size] = 0.0  # rounding of the expansion: an exact twin is at distance 0
        if skip is not None:
            d2[np.arange(len(block)), skip[lo:lo + CHUNK]] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(d2, part, 1)
        order = np.argsort(near, axis=1, kind="stable")
        idx[lo:lo + CHUNK] = np.take_along_axis(part, order, 1)
        dist[lo:lo + CHUNK] = np.sqrt(np.take_along_axis(near, order, 1))
    return idx, dist


def place(map_features, map_coords, new_features, config: PlacementConfig | None = None,
          leave_out=None) -> np.ndarray:
    """(m, 2) map coordinates for the new points: each at the weighted mean of its k nearest map points'
    coordinates (weights 1/distance, or equal; a new point identical to map points sits on them)."""
    config = PlacementConfig() if config is None else config
    if not isinstance(config, PlacementConfig):
        raise ValueError(f"Expected a PlacementConfig; got {type(config).__name__}. Use PlacementConfig(k=10).")
    ref = _matrix(map_features, "the map's features")
    coords = _matrix(map_coords, "the map's coordinates", rows=len(ref))
    new = _matrix(new_features, "the new points' features", cols=ref.shape[1])
    if len(new) == 0:
        return np.zeros((0, coords.shape[1]))
    idx, dist = nearest(ref, new, config.k, leave_out)
    if config.weighting == "uniform":
        w = np.ones_like(dist)
    else:
        twin = dist == 0.0
        w = np.where(twin.any(1, keepdims=True), twin.astype(float), 1.0 / np.maximum(dist, 1e-300))
    w /= w.sum(1, keepdims=True)
    return np.einsum("mk,mkd->md", w, coords[idx])


def land_among(map_coords, map_labels, spots, k: int = 10) -> np.ndarray:
    """The class each spot lands among on the map: the commonest label of its k nearest map points
    (on the map, as the eye reads it; ties go to the nearer points' label)."""
    coords = _matrix(map_coords, "the map's coordinates")
    labels = np.asarray(map_labels).reshape(-1)
    if len(labels) != len(coords):
        raise ValueError(f"Expected one label per map point ({len(coords)}); got {len(labels)}.")
    spots = _matrix(spots, "the spots", cols=coords.shape[1])
    if len(spots) == 0:
        return np.zeros(0, labels.dtype)
    idx, _ = nearest(coords, spots, min(k, len(coords)))
    out = np.empty(len(spots), labels.dtype)
    for i, row in enumerate(labels[idx]):
        values, first = np.unique(row, return_index=True)
        counts = np.array([(row == v).sum() for v in values])
        best = np.flatnonzero(counts == counts.max())
        out[i] = values[best[np.argmin(first[best])]]
    return out
