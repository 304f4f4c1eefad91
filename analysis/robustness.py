"""Does it hold up? Seven altered copies of the test digits, the accuracy of every model on
each, per-digit accuracy, and where two models disagree.

Images are batches (n, H, W) float32 in [0, 1], white ink on black; every alteration works on
the whole batch at once (SciPy's n-dimensional filters) and returns a new array in [0, 1].
No Streamlit here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from analysis.explain import logits

# key -> (short label for tables and charts, what it does, in plain words)
ALTERATIONS = {
    "thinner": ("Thinner strokes", "Erosion with a 3×3 square: each pixel takes the darkest value around it."),
    "thicker": ("Thicker strokes", "Dilation with a 3×3 square: each pixel takes the brightest value around it."),
    "rotate_minus_20": ("Rotated −20°", "Turned 20° clockwise about the centre."),
    "rotate_plus_20": ("Rotated +20°", "Turned 20° counter-clockwise about the centre."),
    "shift_3px": ("Shifted 3 px", "Moved 3 pixels to the right, off-centre (what leaves the edge is lost)."),
    "blur": ("Blurred", "Gaussian blur with σ = 1 pixel."),
    "noise": ("Photo-like noise", "Gaussian noise with σ = 0.2 added to every pixel, then clipped to [0, 1]."),
}
ORIGINAL = "original"


def _check_images(images) -> np.ndarray:
    x = np.asarray(images, np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 3 or x.shape[2] < 3:
        raise ValueError(f"Expected a batch of grayscale images (n, H, W) of at least 3×3; "
                         f"got shape {np.shape(images)}.")
    if x.size and (not np.isfinite(x).all() or x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise ValueError("Expected finite pixel values in [0, 1] (0 = no ink). Scale the images (e.g. divide by 255).")
    return x


def alter(images, name: str, seed: int = 0) -> np.ndarray:
    """An altered copy of a batch (n, H, W) in [0, 1]; `name` is a key of ALTERATIONS. The noise is
    drawn from `seed` (the same seed, the same noise)."""
    from scipy import ndimage

    x = _check_images(images)
    if name not in ALTERATIONS:
        raise ValueError(f"Unknown alteration {name!r}: expected one of {', '.join(ALTERATIONS)}.")
    if name == "thinner":
        out = ndimage.grey_erosion(x, size=(1, 3, 3), mode="nearest")
    elif name == "thicker":
        out = ndimage.grey_dilation(x, size=(1, 3, 3), mode="nearest")
    elif name in ("rotate_minus_20", "rotate_plus_20"):
        angle = 20.0 if name == "rotate_plus_20" else -20.0  # positive: counter-clockwise on screen
        out = ndimage.rotate(x, angle, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)
    elif name == "shift_3px":
        out = np.zeros_like(x)
        out[:, :, 3:] = x[:, :, :-3]
    elif name == "blur":
        out = ndimage.gaussian_filter(x, sigma=(0, 1.0, 1.0), mode="constant", cval=0.0)
    else:
        rng = np.random.default_rng(seed)
        out = x + rng.normal(0.0, 0.2, x.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class RobustnessTable:
    models: tuple[str, ...]       # the models' names, as given
    alterations: tuple[str, ...]  # 'original' first, then keys of ALTERATIONS
    accuracy: np.ndarray          # (n_models, n_alterations) share correct (NaN: not computed, stopped)
    predictions: np.ndarray       # (n_models, n_alterations, n) predicted class (-1: not computed)
    labels: np.ndarray            # (n,) true classes
    stopped: bool = False         # True when on_progress stopped it early

    def rows(self) -> list[dict]:
        """One row per model and alteration, for a table or a CSV download."""
        return [{"model": m, "alteration": label(a), "accuracy": float(self.accuracy[i, j])}
                for i, m in enumerate(self.models) for j, a in enumerate(self.alterations)]


def label(alteration: str) -> str:
    """The short label of an alteration ('Original' for the unaltered digits)."""
    return "Original" if alteration == ORIGINAL else ALTERATIONS[alteration][0]


def robustness_table(models: dict[str, nn.Module], images, labels, alterations=None, seed: int = 0,
                     on_progress=None) -> RobustnessTable:
    """Accuracy of every model on the digits and on each altered copy. Each altered batch is made
    once and shared by the models. `on_progress(done, total)` is called after each model ×
    alteration; returning False stops early (the rest stays NaN / -1, `stopped` is True)."""
    x = _check_images(images)
    y = np.asarray(labels)
    if len(x) == 0:
        raise ValueError("Expected some test digits; got none. Pick a dataset split with test digits.")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"Expected one integer label per image ({len(x)}); got labels of shape {y.shape}.")
    if not models:
        raise ValueError("Expected at least one model; got none. Train a model first.")
    names = tuple(ALTERATIONS) if alterations is None else tuple(alterations)
    for name in names:
        if name not in ALTERATIONS:
            raise ValueError(f"Unknown alteration {name!r}: expected some of {', '.join(ALTERATIONS)}.")
    columns = (ORIGINAL,) + tuple(n for n in names if n != ORIGINAL)
    accuracy = np.full((len(models), len(columns)), np.nan)
    predictions = np.full((len(models), len(columns), len(x)), -1, np.int64)
    total, stopped = len(models) * len(columns), False
    for j, column in enumerate(columns):
        batch = x if column == ORIGINAL else alter(x, column, seed)
        for i, model in enumerate(models.values()):
            predictions[i, j] = logits(model, batch).argmax(1)
            accuracy[i, j] = float((predictions[i, j] == y).mean())
            if on_progress is not None and on_progress(j * len(models) + i + 1, total) is False:
                stopped = j * len(models) + i + 1 < total
                break
        if stopped:
            break
    return RobustnessTable(tuple(models), columns, accuracy, predictions, y.astype(np.int64), stopped)


def per_class_accuracy(table: RobustnessTable, n_classes: int | None = None) -> np.ndarray:
    """(n_models, n_alterations, n_classes): the share of each class's digits read correctly
    (NaN for a class with no digits, or not computed). Shows which classes a model fails."""
    n_classes = int(table.labels.max()) + 1 if n_classes is None else int(n_classes)
    if n_classes < 1 or table.labels.max() >= n_classes:
        raise ValueError(f"Expected n_classes above the largest label ({table.labels.max()}); got {n_classes}.")
    counts = np.bincount(table.labels, minlength=n_classes).astype(np.float64)
    correct = (table.predictions == table.labels).astype(np.float64)              # (m, a, n)
    per_class = np.zeros(table.predictions.shape[:2] + (n_classes,))
    np.add.at(per_class, (slice(None), slice(None), table.labels), correct)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = per_class / counts
    out[table.predictions[:, :, 0] < 0] = np.nan
    return out


def per_class_rows(table: RobustnessTable, class_names=None) -> list[dict]:
    """One row per model, alteration and class, for a CSV download."""
    acc = per_class_accuracy(table, None if class_names is None else len(class_names))
    names = class_names or [str(k) for k in range(acc.shape[2])]
    return [{"model": m, "alteration": label(a), "class": names[k], "accuracy": float(acc[i, j, k])}
            for i, m in enumerate(table.models) for j, a in enumerate(table.alterations) for k in range(len(names))]


@dataclass(frozen=True)
class Disagreement:
    indices: np.ndarray      # positions (into the images given) where the two models answer differently
    predictions_a: np.ndarray  # model A's answers there
    predictions_b: np.ndarray  # model B's answers there
    labels: np.ndarray       # the true classes there
    share: float             # how often they disagree (0 to 1)
    a_right: int             # of those, how many A got right ...
    b_right: int             # ... and how many B


def disagreements(table: RobustnessTable, model_a: str, model_b: str, alteration: str = ORIGINAL) -> Disagreement:
    """Where two models of the table answer differently on one version of the digits."""
    for name in (model_a, model_b):
        if name not in table.models:
            raise ValueError(f"Unknown model {name!r}: expected one of {', '.join(table.models)}.")
    if model_a == model_b:
        raise ValueError(f"Expected two different models; got {model_a!r} twice. Pick another model to compare.")
    if alteration not in table.alterations:
        raise ValueError(f"Unknown alteration {alteration!r}: expected one of {', '.join(table.alterations)}.")
    j = table.alterations.index(alteration)
    a = table.predictions[table.models.index(model_a), j]
    b = table.predictions[table.models.index(model_b), j]
    if (a < 0).any() or (b < 0).any():
        raise ValueError("That part of the table was not computed (it was stopped early). Run it again.")
    idx = np.flatnonzero(a != b)
    y = table.labels[idx]
    return Disagreement(idx, a[idx], b[idx], y, float(len(idx) / len(a)), int((a[idx] == y).sum()),
                        int((b[idx] == y).sum()))
