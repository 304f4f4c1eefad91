"""The room on the map: a room's digits placed on the map of one layer of a model, among the digits the
map was computed from (analysis.placement: from their nearest map points in that layer's space, never a
refit), and how many land among the map's digits of the label they were meant as.

Pure Python (PyTorch through analysis.models, NumPy); no Streamlit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from analysis.models import representations
from analysis.placement import PlacementConfig, land_among, place

__all__ = ["Placed", "place_images", "agreement"]


@dataclass(frozen=True)
class Placed:
    spots: np.ndarray  # (m, 2) where each digit lands on the map
    among: np.ndarray  # (m,) the class each lands among (the commonest label of its nearest map points)


def place_images(model: nn.Module, layer: str, map_features: np.ndarray, map_coords: np.ndarray,
                 map_labels: np.ndarray, images: np.ndarray, config: PlacementConfig | None = None) -> Placed:
    """``images`` (m, H, W) in [0, 1] through ``model`` to ``layer`` (a name of analysis.models.representations),
    then placed on the map of that layer (``map_features`` are the map's points in that layer)."""
    reps = representations(model, np.asarray(images, dtype=np.float32))
    if layer not in reps:
        raise ValueError(f"Expected a layer of this model ({', '.join(reps)}); got {layer!r}. Pick one of them.")
    spots = place(map_features, map_coords, reps[layer], config)
    return Placed(spots, land_among(map_coords, map_labels, spots))


def agreement(labels: np.ndarray, among: np.ndarray) -> dict[int, tuple[int, int]]:
    """Per class meant: (how many land among the map's digits of that class, how many were meant)."""
    labels, among = np.asarray(labels), np.asarray(among)
    return {int(k): (int((among[labels == k] == k).sum()), int((labels == k).sum())) for k in np.unique(labels)}
