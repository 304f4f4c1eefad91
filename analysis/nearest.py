"""Explanation by example: the training digits nearest to one digit in the model's last hidden
layer (what the model itself treats as similar); in pixel space for logistic regression, which
has no hidden layer. No Streamlit here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from analysis.explain import as_image
from analysis.models import infer, representations

NO_TRAINING_DIGITS = ("No training digits on this server for this model (restored from a file without its data "
                      "split?): the nearest examples are switched off. Train the model here to use them.")


@dataclass(frozen=True)
class NeighbourIndex:
    features: np.ndarray  # (n, d) float32: the training digits in `layer`
    labels: np.ndarray    # (n,) their labels
    indices: np.ndarray   # (n,) their indices in the dataset (to show the images)
    layer: str            # the representation searched, e.g. 'hidden layer 1 (512 units)' or 'pixels'
    pixel_space: bool     # True when the model has no hidden layer (logistic regression)


def _hidden_features(model: nn.Module, images: np.ndarray, batch_size: int = 1024) -> tuple[np.ndarray, str, bool]:
    """The last hidden layer's output for each image (pixels when there is none), its name, and
    whether it is pixel space. The name is the Representations page's (analysis.models)."""
    names = [name for name, _ in model.named_children() if name.startswith(("hidden", "conv"))]
    if not names:
        return images.reshape(len(images), -1).astype(np.float32), "pixels", True
    layer = [k for k in representations(model, images[:1]) if k not in ("pixels", "logits", "probabilities")][-1]

    def step(x: torch.Tensor) -> np.ndarray:
        for name, block in model.named_children():
            x = block(x)
            if name == names[-1]:
                break
        return x.flatten(1).float().cpu().numpy()

    out = infer(model, images, step, batch_size)
    return np.concatenate(out), layer, False


def neighbour_index(model: nn.Module, images, labels, indices=None) -> NeighbourIndex:
    """The training digits (n, H, W) in the model's last hidden layer, ready for
    nearest_examples(). Build once per model and keep it (a cache). Refused when there are no
    training digits (a model restored from a file without its data split)."""
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    if images.ndim != 3:
        raise ValueError(f"Expected training images of shape (n, H, W); got {images.shape}.")
    if len(images) == 0:
        raise ValueError(NO_TRAINING_DIGITS)
    if labels.shape != (len(images),):
        raise ValueError(f"Expected one label per image ({len(images)}); got labels of shape {labels.shape}.")
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    if indices.shape != labels.shape:
        raise ValueError(f"Expected one dataset index per image ({len(images)}); got {indices.shape}.")
    features, layer, pixel_space = _hidden_features(model, images)
    return NeighbourIndex(features, labels, indices, layer, pixel_space)


@dataclass(frozen=True)
class Neighbours:
    indices: np.ndarray    # (k,) dataset indices of the nearest training digits, nearest first
    labels: np.ndarray     # (k,) their labels
    distances: np.ndarray  # (k,) Euclidean distances in `layer`
    layer: str
    pixel_space: bool      # True: searched in pixel space (the model has no hidden layer)


def nearest_examples(index: NeighbourIndex, model: nn.Module, image, k: int = 6) -> Neighbours:
    """The k training digits nearest to `image` (Euclidean) in the index's layer."""
    image = as_image(image)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(index.labels):
        raise ValueError(f"Expected k from 1 to {len(index.labels)} (the training digits); got {k!r}.")
    query, _, _ = _hidden_features(model, image[None])
    if query.shape[1] != index.features.shape[1]:
        raise ValueError(f"The index has {index.features.shape[1]} features per digit but this model gives "
                         f"{query.shape[1]}: build the index with the same model.")
    d2 = ((index.features.astype(np.float64) - query.astype(np.float64)) ** 2).sum(1)
    near = np.argpartition(d2, k - 1)[:k] if k < len(d2) else np.arange(len(d2))
    near = near[np.lexsort((near, d2[near]))]  # nearest first, ties by position
    return Neighbours(index.indices[near], index.labels[near], np.sqrt(d2[near]), index.layer, index.pixel_space)
