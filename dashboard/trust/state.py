"""The Trust page's session object: the digit being explained and what is not a widget value (photos,
computed explanations), under ONE st.session_state key through `session.get`. Its widgets keep their
own values (`persist_state`). Other pages send a digit with
`session.hand_over(trust_state(), "incoming_digit", IncomingDigit(...), "trust.py")`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dashboard.core import session
from dashboard.core.uploads import UploadSlot
from dashboard.predict.state import IncomingDigit

KEY = "trust"
WIDGETS = ("trust_",)  # the page's widget keys; reset() forgets them too


@dataclass
class TrustState:
    image: np.ndarray | None = None  # the digit being explained: (H, W) float32 in [0, 1], white ink on black
    label: int | None = None         # its true class, when known
    source: str = ""                 # where it came from, in words ("Predict: your drawing", "test digit 12")
    handed_over: bool = False        # True when another page sent it
    incoming_digit: IncomingDigit | None = None  # a digit another page handed over, not yet taken (take_incoming)
    photos: list[tuple[np.ndarray, int]] = field(default_factory=list)  # the user's labelled photos (28×28, label)
    photo: UploadSlot = field(default_factory=UploadSlot)  # the photo being explained
    set_photo: UploadSlot = field(default_factory=UploadSlot)  # the next photo for the labelled set
    memo: dict = field(default_factory=dict)  # this user's computed explanations, keyed by model and digit

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

    def take_incoming(self) -> None:
        """Explain the digit another page handed over (once); ValueError if it is not a digit in [0, 1]."""
        digit, self.incoming_digit = self.incoming_digit, None
        if digit is not None:
            self.set_digit(digit.image, digit.label, digit.origin, handed_over=True)


def trust_state(session_state=None) -> TrustState:
    """This session's TrustState (created on first use). `session_state` defaults to st.session_state;
    tests pass an AppTest's session_state."""
    return session.get(KEY, TrustState, session_state)


def reset() -> None:
    """'Start over' on the Trust page (the sidebar's): the state object and the page's widgets."""
    session.reset(KEY, WIDGETS)


def revealed(models: dict) -> tuple[dict, list[str]]:
    """(the models whose test score may be shown, the names of those whose test score is hidden):
    "How sure" and "Does it hold up" measure on the test digits, so they wait for a reveal."""
    shown = {n: sm for n, sm in models.items() if not sm.hidden_test}
    return shown, [n for n in models if n not in shown]


HIDDEN_NOTE = ("Measured on the test digits, so hidden until you reveal the test score on the Training page (each "
               "reveal is counted as a look at the test set): ")
