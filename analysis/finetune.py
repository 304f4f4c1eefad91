"""Teach it our handwriting: fine-tune a COPY of a trained model on half of a room's digits.

The room's digits are split **by student** (the anonymous sender id of the class board): every student's
digits go to one half only, so the other half measures handwriting the copy has never seen, not the same
hand again. The copy trains a few epochs on one half; before and after, its accuracy is measured on the
other half and on MNIST validation digits. A few dozen digits can overfit: the copy may learn the room's
half by heart and lose some of MNIST (the sweep's lesson).

The model given is never changed: :func:`finetune` trains ``copy.deepcopy`` of it (or a model rebuilt
from a state dict in a worker process). Pure Python (PyTorch, NumPy); ValueErrors say what was expected,
what came and how to fix it; :class:`TooFewDigits` is the plain message for a board too small to split.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.models import as_batch

__all__ = ["FinetuneConfig", "TooFewDigits", "split_by_student", "finetune", "checksum", "MIN_STUDENTS",
           "MIN_DIGITS"]

MIN_STUDENTS, MIN_DIGITS = 2, 10


class TooFewDigits(ValueError):
    """The board has too few digits or students to split into two halves: one plain sentence."""


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = 5
    lr: float = 1e-3  # Adam
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self):
        for name, low, high in (("epochs", 1, 50), ("batch_size", 1, 1024)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not low <= v <= high:
                raise ValueError(f"Expected {name} as a whole number from {low} to {high}; got {v!r}.")
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr <= 1:
            raise ValueError(f"Expected lr, the learning rate, above 0 and at most 1; got {self.lr!r}. Try 0.001.")


def split_by_student(senders, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows) of the digits, no student in both: students are shuffled (``seed``),
    then each goes, most digits first, to the half that has fewer digits so far (the halves come out
    about even). TooFewDigits below MIN_STUDENTS students or MIN_DIGITS digits."""
    senders = np.asarray([str(s) for s in senders])
    students = np.unique(senders)
    if len(senders) < MIN_DIGITS or len(students) < MIN_STUDENTS:
        raise TooFewDigits(f"Teaching needs at least {MIN_DIGITS} digits from at least {MIN_STUDENTS} students "
                           f"(one half to learn from, the other to test on); the board has {len(senders)} "
                           f"digit(s) from {len(students)} student(s): ask for more digits.")
    order = np.random.default_rng(seed).permutation(len(students))
    counts = {s: int((senders == s).sum()) for s in students}
    ranked = sorted((students[i] for i in order), key=lambda s: -counts[s])  # stable: ties keep the shuffle
    halves: tuple[list, list] = ([], [])
    sizes = [0, 0]
    for s in ranked:
        h = 0 if sizes[0] <= sizes[1] else 1
        halves[h].append(s)
        sizes[h] += counts[s]
    rows = [np.flatnonzero(np.isin(senders, half)) for half in halves]
    return rows[0], rows[1]


def checksum(model: nn.Module) -> str:
    """A fingerprint of every weight and buffer (to show a model did not change)."""
    h = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    if len(labels) == 0:
        return float("nan")
    model.eval()
    with torch.no_grad():
        pred = model(as_batch(images)).argmax(1).numpy()
    return float((pred == np.asarray(labels)).mean())


def _scores(model, images, labels, held, val_images, val_labels) -> dict[str, float]:
    return {"room": _accuracy(model, images[held], labels[held]), "mnist": _accuracy(model, val_images, val_labels)}


def finetune(model: nn.Module, images: np.ndarray, labels, senders, val_images: np.ndarray, val_labels,
             config: FinetuneConfig | None = None,
             on_epoch: Callable[[int, dict], bool] | None = None) -> dict:
    """Train a copy of ``model`` on one half of the room's digits (``images`` (n, 28, 28) in [0, 1],
    ``labels``, ``senders``), split by student. ``on_epoch(epoch, scores)`` after each epoch; False stops.
    Returns {"before", "after": {"room", "mnist"} accuracies, "train_n", "test_n", "students": (a, b),
    "epochs" done, "per_epoch": [scores…], "model": the trained copy}."""
    config = FinetuneConfig() if config is None else config
    images, labels = np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)
    if images.ndim != 3 or len(images) != len(labels) or len(labels) != len(senders):
        raise ValueError(f"Expected images (n, H, W) with one label and one sender each; got images "
                         f"{images.shape}, {len(labels)} labels, {len(senders)} senders.")
    train_rows, held = split_by_student(senders, config.seed)
    copy_ = copy.deepcopy(model).cpu()
    before = _scores(copy_, images, labels, held, val_images, val_labels)
    torch.manual_seed(config.seed)
    opt = torch.optim.Adam(copy_.parameters(), lr=config.lr)
    x, y = as_batch(images[train_rows]), torch.from_numpy(labels[train_rows])
    rng = np.random.default_rng(config.seed)
    per_epoch, done = [], 0
    for epoch in range(1, config.epochs + 1):
        copy_.train()
        for b in np.array_split(rng.permutation(len(y)), max(1, -(-len(y) // config.batch_size))):
            opt.zero_grad()
            F.cross_entropy(copy_(x[b]), y[b]).backward()
            opt.step()
        done = epoch
        per_epoch.append(_scores(copy_, images, labels, held, val_images, val_labels))
        if on_epoch is not None and on_epoch(epoch, per_epoch[-1]) is False:
            break
    copy_.eval()
    senders = np.asarray([str(s) for s in senders])
    return {"before": before, "after": per_epoch[-1] if per_epoch else before, "train_n": len(train_rows),
            "test_n": len(held), "students": (len(set(senders[train_rows])), len(set(senders[held]))),
            "epochs": done, "per_epoch": per_epoch, "model": copy_}
