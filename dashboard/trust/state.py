"""The Trust page's session object: the digit being explained and the user's choices, under ONE
st.session_state key. Other pages hand a digit over with `receive(image, label, source)` and
then `st.switch_page("pages/trust.py")`."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import streamlit as st

from dashboard.core import pages, session_models
from dashboard.core.uploads import UploadSlot

KEY = "trust"
WIDGET_PREFIX = "trust_"  # the page's widget keys; reset() forgets them too


@dataclass
class TrustState:
    image: np.ndarray | None = None  # the digit being explained: (H, W) float32 in [0, 1], white ink on black
    label: int | None = None         # its true class, when known
    source: str = ""                 # where it came from, in words ("Predict: your drawing", "test digit 12")
    handed_over: bool = False        # True when another page sent it (receive)
    test_index: int = 0              # the test digit shown when picking one here
    models: list[str] | None = None  # the chosen models' names (None: all, up to three)
    contrast: int | None = None      # "why A and not B": the class B (None: no comparison)
    cost_error: float = 5.0          # cost of a wrong automatic decision
    cost_referral: float = 1.0       # cost of sending a case to a person
    photos: list[tuple[np.ndarray, int]] = field(default_factory=list)  # the user's labelled photos (28×28, label)
    photo: UploadSlot = field(default_factory=UploadSlot)  # the photo being explained
    set_photo: UploadSlot = field(default_factory=UploadSlot)  # the next photo for the labelled set
    memo: dict = field(default_factory=dict)  # this user's computed explanations, keyed by model and digit

    def reset(self) -> None:
        """Back to the defaults: no digit, no choices, no photos, nothing computed."""
        for f in fields(self):
            setattr(self, f.name, f.default_factory() if callable(f.default_factory) else f.default)

    def set_digit(self, image, label: int | None, source: str, handed_over: bool = False) -> None:
        arr = np.array(image, dtype=np.float32)
        if arr.ndim != 2 or not np.isfinite(arr).all() or arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
            raise ValueError(f"Expected one grayscale digit (H, W) with values in [0, 1]; got shape {arr.shape}. "
                             "Pass the model's input (e.g. a 28×28 test digit or preprocess_steps(...).result).")
        arr = np.clip(arr, 0, 1)
        arr.setflags(write=False)
        self.image, self.label, self.source, self.handed_over = arr, None if label is None else int(label), \
            str(source), handed_over
        self.memo.clear()


def state(session=None) -> TrustState:
    """This session's TrustState (created on first use). `session` defaults to st.session_state;
    tests pass an AppTest's session_state."""
    session = st.session_state if session is None else session
    if KEY not in session or not isinstance(session[KEY], TrustState):
        session[KEY] = TrustState()
    return session[KEY]


def receive(image, label: int | None, source: str, session=None) -> None:
    """Hand a digit to the Trust page (call it before st.switch_page to /trust): `image` (H, W) in
    [0, 1] as the model sees it, its true `label` or None, and `source` in words, e.g.
    "Predict: your drawing" or "Training: a mistake of the convnet"."""
    state(session).set_digit(image, label, source, handed_over=True)


def focus(model: str, session=None) -> None:
    """Explain `model` (by its name) first: the page's model choice becomes that one model."""
    session = st.session_state if session is None else session
    state(session).models = [model]
    session[WIDGET_PREFIX + "models"] = [model]


def explain(image, label: int | None, source: str, model: str | None = None) -> None:
    """The "Why?" buttons elsewhere: hand the digit over (and the model asked about, when given:
    Trust then explains that model, whether or not its test score was revealed) and open Trust."""
    receive(image, label, source)
    if model is not None:
        focus(model)
    st.switch_page(pages.page("trust.py"))


def reset(session=None) -> None:
    """'Start over' on the Trust page: the state object and the page's widgets."""
    session = st.session_state if session is None else session
    state(session).reset()
    for key in [k for k in list(session.keys()) if str(k).startswith(WIDGET_PREFIX)]:
        del session[key]


def models() -> tuple[dict, bool]:
    """The models the page explains (name -> SessionModel) and whether they are this session's own:
    all its models (an explanation needs no test score), else the server's defaults (waiting for
    them with their progress, as Predict does)."""

    return session_models.session_or_defaults(
        lambda sm: True, ("logreg", "mlp", "cnn"),
        "No model trained in this session yet, so the server's default models are being trained once for "
        "everyone (a few seconds).")


def revealed(models: dict) -> tuple[dict, list[str]]:
    """(the models whose test score may be shown, the names of those whose test score is hidden):
    "How sure" and "Does it hold up" measure on the test digits, so they wait for a reveal."""
    shown = {n: sm for n, sm in models.items() if not sm.hidden_test}
    return shown, [n for n in models if n not in shown]


HIDDEN_NOTE = ("Measured on the test digits, so hidden until you reveal the test score on the Training page (each "
               "reveal is counted as a look at the test set): ")


def model_key(sm) -> str:
    """What identifies a model's weights in the shared caches (a stopped run differs from a finished one)."""
    t = sm.trained
    return t.key + (f"-stopped{len(t.history.rows)}" if t.history.stopped else "")
