"""The session's models, with one owner: Training adds them; Predict, Representations and
later pages read them. A selection naming a model that is gone falls back with a notice."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import streamlit as st

from analysis.datasets import Dataset
from analysis.train import TrainedModel, predict_proba
from dashboard.core import session
from dashboard.core import training_jobs as ts

KEY = "session_models"


@dataclass
class SessionModel:
    """A model this session trained or loaded, with what its pages need."""
    name: str
    trained: TrainedModel
    dataset: Dataset | None  # None when loaded from a file whose data this server does not have
    test_probs: np.ndarray | None = None  # Pr(class) for the test digits
    notes: list[str] = field(default_factory=list)
    hidden_test: bool = False  # a sweep's run: show its test score nowhere until the sweep's reveal


@dataclass
class SessionModels:
    models: dict[str, SessionModel] = field(default_factory=dict)  # by name, oldest first
    runs: list[dict] = field(default_factory=list)  # the Training page's runs table
    current: str | None = None  # the model the Training page shows


def model_key(sm: SessionModel) -> str:
    """What identifies a model's weights in the shared caches and job keys (a stopped run differs
    from a finished one): the one definition every feature uses."""
    t = sm.trained
    return t.key + (f"-stopped{len(t.history.rows)}" if t.history.stopped else "")


def state(session_state=None) -> SessionModels:
    return session.get(KEY, SessionModels, session_state)


def models() -> dict[str, SessionModel]:
    return state().models


def current() -> SessionModel | None:
    s = state()
    return s.models.get(s.current)


def reset() -> None:
    st.session_state.pop(KEY, None)


def add(trained: TrainedModel, ds: Dataset | None, name: str, hidden_test: bool = False) -> SessionModel:
    """Keep a model (and its run in the runs table); make it the current one. `hidden_test`: a
    sweep's run, whose test score every view hides until `reveal_test(name)`."""
    s = state()
    base, n = name, 2
    while name in s.models:
        name, n = f"{base} ({n})", n + 1
    probs = None
    if ds is not None and trained.split is not None:
        probs = predict_proba(trained.model, ds.images[trained.split.test])
    sm = SessionModel(name, trained, ds, probs, hidden_test=hidden_test)
    s.models[name] = sm
    s.current = name
    s.runs.append({
        "model": name, "validation accuracy": trained.val_accuracy, "test accuracy": trained.test_accuracy,
        "parameters": trained.parameters, "epochs run": len(trained.history.rows),
        "seconds": round(trained.seconds, 1), "device": trained.device,
        "optimizer": trained.train_config.optimizer, "lr": trained.train_config.lr,
        "batch size": trained.train_config.batch_size, "hidden test": hidden_test})
    return sm


def reveal_test(name: str) -> None:
    """Show this model's test score again (its sweep's test score was revealed)."""
    s = state()
    if name in s.models:
        s.models[name].hidden_test = False
    for row in s.runs:
        if row.get("model") == name:
            row["hidden test"] = False


def usable(test: Callable[[SessionModel], bool]) -> dict[str, SessionModel]:
    """This session's models that pass `test`, by name."""
    return {name: sm for name, sm in models().items() if test(sm)}


def defaults(kinds: tuple[str, ...]) -> tuple[dict[str, SessionModel], list]:
    """The server's default models of `kinds` (trained once per server) as SessionModels, and the
    jobs still training some of them (empty once all are ready). jobs.RegistryFull when the
    server's queue cannot take them now."""
    wanted = [ts.KIND_NAMES[k] for k in kinds]
    ready, still = ts.default_models()
    if not all(name in ready for name in wanted) and still:
        return {}, still
    out = {}
    for name in (n for n in wanted if n in ready):
        sm = SessionModel(name, ready[name], ts.dataset("mnist5k"))
        if sm.trained.split is not None:
            sm.test_probs = ts.test_probabilities(sm.trained)
        out[name] = sm
    return out, []
