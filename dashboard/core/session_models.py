"""The session's models, with one owner: Training adds them; Predict, Representations and
later pages read them. A selection naming a model that is gone falls back with a notice.

The session's test ledger lives here too (under its own key, so Start over keeps it): every model's
test score stays hidden on every page until the person reveals it (`reveal_test`), and every
reveal is one more look at the test set (analysis.sweep.RevealLedger). A new tab is a new session,
so it starts a new ledger."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import streamlit as st

from analysis.datasets import Dataset
from analysis.sweep import Look, RevealLedger
from analysis.train import TrainedModel, predict_proba
from dashboard.core import session
from dashboard.core import training_jobs as ts

KEY = "session_models"
LEDGER_KEY = "reveal_ledger"  # not reset by Start over: a test score once seen stays seen


@dataclass
class SessionModel:
    """A model this session trained or loaded, with what its pages need."""
    name: str
    trained: TrainedModel
    dataset: Dataset | None  # None when loaded from a file whose data this server does not have
    test_probs: np.ndarray | None = None  # Pr(class) for the test digits
    notes: list[str] = field(default_factory=list)
    val_probs: np.ndarray | None = None   # Pr(class) for the validation digits
    description: str = ""  # the full settings (hover, runs table); `name` is the short one (chips, menus)
    own: bool = True  # False: one of the server's default models (chosen by nobody here: its test score shows)

    @property
    def test_key(self) -> str:
        """What the ledger knows this model by (a stopped run differs from a finished one)."""
        t = self.trained
        return t.key + (f"-stopped{len(t.history.rows)}" if t.history.stopped else "")

    @property
    def hidden_test(self) -> bool:
        """True until the person reveals this model's test score (alone or as a sweep's choice)."""
        return self.own and not ledger().shown(self.test_key)


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


def ledger(session_state=None) -> RevealLedger:
    """This session's test ledger (survives Start over and page switches; a new tab starts a new one)."""
    return session.get(LEDGER_KEY, RevealLedger, session_state)


def described(names) -> str:
    """The full settings of each named model of this session, for a menu's hover help (its chips show the
    short names)."""
    mine = state().models
    lines = [f"- **{n}**: {mine[n].description}" for n in names if n in mine and mine[n].description != n]
    return ("\n\nThe models' full settings:\n" + "\n".join(lines)) if lines else ""


def reset() -> None:
    st.session_state.pop(KEY, None)


def add(trained: TrainedModel, ds: Dataset | None, name: str, description: str | None = None) -> SessionModel:
    """Keep a model (and its run in the runs table); make it the current one. `name` is unique in the
    session (a second one gets " (2)"); `description` the full settings. Its test score stays
    hidden everywhere until `reveal_test(name)`; the run records how many looks at the test set came
    before it (a run chosen after a look is marked in the runs table)."""
    s = state()
    base, n = name, 2
    while name in s.models:
        name, n = f"{base} ({n})", n + 1
    probs = val = None
    if ds is not None and trained.split is not None:
        probs = predict_proba(trained.model, ds.images[trained.split.test])
        val = predict_proba(trained.model, ds.images[trained.split.val])
    sm = SessionModel(name, trained, ds, probs, val_probs=val, description=description or name)
    s.models[name] = sm
    s.current = name
    s.runs.append({
        "model": name, "settings": description or name, "validation accuracy": trained.val_accuracy,
        "test accuracy": trained.test_accuracy,
        "parameters": trained.parameters, "epochs run": len(trained.history.rows),
        "seconds": round(trained.seconds, 1), "device": trained.device,
        "optimizer": trained.train_config.optimizer, "lr": trained.train_config.lr,
        "batch size": trained.train_config.batch_size, "looks before": ledger().count, "key": sm.test_key})
    return sm


def reveal_test(name: str) -> Look:
    """Reveal this model's test score: one more look at the test set (none if already revealed alone)."""
    sm = state().models.get(name)
    if sm is None:
        raise ValueError(f"No model named {name!r} in this session; pick one from the runs table.")
    t = sm.trained
    return ledger().look(sm.test_key, name, t.val_accuracy, t.test_accuracy)


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
        sm = SessionModel(name, ready[name], ts.dataset("mnist5k"), own=False)
        if sm.trained.split is not None:
            sm.test_probs = ts.test_probabilities(sm.trained)
        out[name] = sm
    return out, []
