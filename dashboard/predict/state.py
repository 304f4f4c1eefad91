"""Predict's session object: the uploaded photo, the last camera shot, the drawing, the test
digit shown, and a digit handed over by another page. Its widgets keep their own values."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dashboard.core import session
from dashboard.core.uploads import UploadSlot

KEY = "predict"
WIDGETS = ("predict_",)  # its widgets' keys


@dataclass(frozen=True)
class IncomingDigit:
    """A digit another page sends to Predict (`session.hand_over(..., "incoming_digit", ...)`)."""
    image: np.ndarray  # already the model's input: values in [0, 1], the model's size
    label: int | None  # its true label, when known
    origin: str  # where it comes from, said on the page, e.g. "a mistake on the Training page"
    model: str | None = None  # the model asked about ("Why?" under its answer): Trust explains that one


@dataclass
class PredictState:
    photo: UploadSlot = field(default_factory=UploadSlot)
    camera: UploadSlot = field(default_factory=UploadSlot)
    drawing: np.ndarray | None = None  # the last drawing (RGBA), shown again after a page switch
    drawing_json: dict | None = None  # the canvas's own description of it
    canvas_start: dict | None = None  # what the canvas was opened with on this visit
    test_index: int = 0  # the test digit shown
    incoming_digit: IncomingDigit | None = None


def predict_state(session_state=None) -> PredictState:
    return session.get(KEY, PredictState, session_state)


def reset() -> None:
    """Start over on Predict (no jobs to detach from)."""
    session.reset(KEY, WIDGETS)
