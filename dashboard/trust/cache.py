"""The Trust page's shared caches (one computation per model per server, never mutated) and its
per-user memo of explanations (in the TrustState). Thin wrappers around analysis/."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from analysis import explain as ex
from analysis import explain_checks as checks
from analysis.nearest import NO_TRAINING_DIGITS, nearest_examples, neighbour_index
from analysis.robustness import robustness_table
from dashboard.core.session_models import model_key
from dashboard.trust.state import TrustState


@dataclass(frozen=True)
class Outputs:
    """A model's logits on its validation and test digits, with their labels (read-only)."""
    val_logits: np.ndarray
    val_labels: np.ndarray
    test_logits: np.ndarray
    test_labels: np.ndarray


def has_split(sm) -> bool:
    """True when this server has the model's digits (its data and its split)."""
    return sm.dataset is not None and sm.trained.split is not None


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


@st.cache_resource(show_spinner="Asking the model about its validation and test digits…", max_entries=32)
def _outputs(key: str, _sm) -> Outputs:
    t, ds = _sm.trained, _sm.dataset
    return Outputs(*_frozen(ex.logits(t.model, ds.images[t.split.val]), ds.labels[t.split.val].copy(),
                            ex.logits(t.model, ds.images[t.split.test]), ds.labels[t.split.test].copy()))


def outputs(sm) -> Outputs:
    """Logits on the validation and test digits, computed once per model and server."""
    return _outputs(model_key(sm) + f"/{sm.dataset.name}", sm)


@st.cache_resource(show_spinner=False, max_entries=32)
def _random_model(key: str, _model):
    return checks.randomized_copy(_model)


def random_model(sm):
    """The same architecture with random weights (for the sanity check), one per model and server."""
    return _random_model(model_key(sm), sm.trained.model)


@st.cache_resource(show_spinner="Indexing the training digits…", max_entries=32)
def _index(key: str, _sm):
    t, ds = _sm.trained, _sm.dataset
    return neighbour_index(t.model, ds.images[t.split.train], ds.labels[t.split.train], t.split.train)


def nearest(sm, image, k: int = 6):
    """The k training digits nearest to `image` in the model's last hidden layer; ValueError
    (NO_TRAINING_DIGITS) when this server has no training digits for the model."""
    if not has_split(sm):
        raise ValueError(NO_TRAINING_DIGITS)
    return nearest_examples(_index(model_key(sm) + f"/{sm.dataset.name}", sm), sm.trained.model, image, k)


@st.cache_resource(show_spinner="Altering the test digits seven ways and asking every model (a few seconds)…",
                   max_entries=8)
def _robustness(key: tuple, _models: dict, _images, _labels):
    return robustness_table(_models, _images, _labels)


def robustness(models: dict) -> tuple:
    """(RobustnessTable, test images, the dataset) for the models that share the first one's test
    digits (others are left out and named). Shared by every session with the same models."""
    usable = {n: sm for n, sm in models.items() if has_split(sm)}
    if not usable:
        return None, None, None, list(models)
    first = next(iter(usable.values()))
    test = first.trained.split.test
    same = {n: sm for n, sm in usable.items() if sm.dataset.name == first.dataset.name
            and np.array_equal(sm.trained.split.test, test)}
    left_out = [n for n in models if n not in same]
    ds = first.dataset
    key = (ds.name, hashlib.sha1(test.tobytes()).hexdigest(), tuple((n, model_key(sm)) for n, sm in same.items()))
    table = _robustness(key, {n: sm.trained.model for n, sm in same.items()}, ds.images[test], ds.labels[test])
    return table, ds.images[test], ds, left_out


# ---------------------------------------------------------------- per user (in the TrustState)

def digit_key(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image, np.float32).tobytes()).hexdigest()[:16]


def _memo(ts: TrustState, key, make):
    if key not in ts.memo:
        while len(ts.memo) >= 64:  # bounded: a few models × digits × contrasts
            ts.memo.pop(next(iter(ts.memo)))
        ts.memo[key] = make()
    return ts.memo[key]


def explanation(ts: TrustState, sm, image, contrast: int | None = None) -> ex.Explanation:
    """Occlusion and IG for the predicted class (and minus `contrast`), memoised for this user."""
    return _memo(ts, ("explain", model_key(sm), digit_key(image), contrast),
                 lambda: ex.explain(sm.trained.model, image, None, contrast))


def sanity(ts: TrustState, sm, image, explained: ex.Explanation) -> checks.SanityCheck:
    return _memo(ts, ("sanity", model_key(sm), digit_key(image), explained.contrast),
                 lambda: checks.sanity_check(sm.trained.model, image, explained, random_model(sm)))


def deletion(ts: TrustState, sm, image, explained: ex.Explanation) -> dict[str, checks.DeletionCurve]:
    """Deletion curves in the order of each map (occlusion, IG), for the predicted class."""
    def make():
        return {name: checks.deletion_curve(sm.trained.model, image, m, explained.target)
                for name, m in (("Occlusion", explained.occlusion), ("Integrated Gradients",
                                                                     explained.integrated_gradients))}
    return _memo(ts, ("deletion", model_key(sm), digit_key(image)), make)
