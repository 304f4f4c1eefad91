"""Convolution's session object: the uploaded picture, the step-through position, and the
'before' picture encoded once per picture. Its widgets keep their own values (persist_state)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dashboard.core import session
from dashboard.core.uploads import UploadSlot

KEY = "convolution"
WIDGETS = ("conv_", "step_")  # its widgets' keys


@dataclass
class ConvolutionState:
    upload: UploadSlot = field(default_factory=UploadSlot)  # "your own picture"
    shown_upload: str | None = None  # the upload last switched to (a fresh upload is shown at once)
    step_pos: int = 0  # the output pixel explained step by step
    last_kernel: np.ndarray | None = None  # the last preset, the start of a custom kernel
    before: tuple[str, bytes] | None = None  # (picture key, the 'before' picture encoded for the browser)


def convolution_state(session_state=None) -> ConvolutionState:
    return session.get(KEY, ConvolutionState, session_state)


def reset() -> None:
    """Start over on Convolution (no jobs to detach from)."""
    session.reset(KEY, WIDGETS)
