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
    description: str = ""  # the full settings (hover, runs table); `name` is the short one (chips, menus)


@dataclass
class SessionModels:
    models: dict[str, SessionModel] = field(default_factory=dict)  # by name, oldest first
    runs: list[dict] = field(default_factory=list)  # the Training page's runs table
    current: str | None = None  # the model the Training page shows


def state(session_state=None) -> SessionModels:
    return session.get(KEY, SessionModels, session_state)


def models() -> dict[str, SessionModel]:
    return state().models


def current() -> SessionModel | None:
    s = state()
    return s.models.get(s.current)


def described(names) -> str:
    """The full settings of each named model of this session, for a menu's hover help (its chips show the
    short names)."""
    mine = state().models
    lines = [f"- **{n}**: {mine[n].description}" for n in names if n in mine and mine[n].description != n]
    return ("\n\nThe models' full settings:\n" + "\n".join(lines)) if lines else ""


def reset() -> None:
    st.session_state.pop(KEY, None)


def add(trained: TrainedModel, ds: Dataset | None, name: str, hidden_test: bool = False,
        description: str | None = None) -> SessionModel:
    """Keep a model (and its run in the runs table); make it the current one. `name` is unique in the
    session (a second one gets " (2)"); `description` the full settings. `hidden_test`: a
    sweep's run, whose test score every view hides until `reveal_test(name)`."""
    s = state()
    base, n = name, 2
    while name in s.models:
        name, n = f"{base} ({n})", n + 1
    probs = None
    if ds is not None and trained.split is not None:
        probs = predict_proba(trained.model, ds.images[trained.split.test])
    sm = SessionModel(name, trained, ds, probs, hidden_test=hidden_test, description=description or name)
    s.models[name] = sm
    s.current = name
    s.runs.append({
        "model": name, "settings": description or name, "validation accuracy": trained.val_accuracy,
        "test accuracy": trained.test_accuracy,
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


def keep_choice(key: str, available: list[str], many: bool) -> None:
    """Before a model selectbox/multiselect keyed `key` is drawn: drop names of models that are
    gone (Start over on Training) so it falls back to what exists, and say so."""
    if key not in st.session_state:
        return
    chosen = st.session_state[key]
    names = list(chosen) if many else [chosen]
    gone = [n for n in names if n not in available]
    if not gone:
        return
    left = [n for n in names if n in available]
    if many and left:
        st.session_state[key] = left
    else:
        del st.session_state[key]  # the widget's default: what exists
    st.info("No longer in this session (removed on the Training page): " + "; ".join(gone)
            + ". Showing what is left.", icon=":material/info:")


def session_or_defaults(usable: Callable[[SessionModel], bool], kinds: tuple[str, ...],
                        waiting: str) -> tuple[dict[str, SessionModel], bool]:
    """This session's usable models, or else the server's default models of `kinds` (trained
    once per server: until they are ready this shows `waiting` and their progress, and stops
    the page). Returns (models by name, True if they are this session's own)."""
    mine = {name: sm for name, sm in models().items() if usable(sm)}
    if mine:
        return mine, True
    wanted = [ts.KIND_NAMES[k] for k in kinds]

    def waiting_for() -> list:
        ready, still = ts.default_models()
        return [] if all(name in ready for name in wanted) else still

    if waiting_for():
        st.info(waiting)

        @st.fragment(run_every=1.0)
        def wait() -> None:
            still = waiting_for()
            if not still:
                st.rerun()
            for job in still:
                st.progress(job.progress, text=f"{job.label}: {job.message}")

        wait()
        st.stop()
    ready = ts.default_models()[0]
    out = {}
    for name in (n for n in wanted if n in ready):
        sm = SessionModel(name, ready[name], ts.dataset("mnist5k"))
        if sm.trained.split is not None:
            sm.test_probs = ts.test_probabilities(sm.trained)
        out[name] = sm
    if not out:
        st.error("The server's default models could not be trained. Retry, or train one on the Training page.")
        st.button("Retry", key="defaults_retry", icon=":material/refresh:", help="Train the default models again.")
        st.stop()
    return out, False
