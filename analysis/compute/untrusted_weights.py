"""The one loader for a user's weights file (``open_weights``): analysis.recording's loader, with every
error on that path turned into the plain refusal. The zip of images: untrusted_files."""
from __future__ import annotations

import logging

from analysis.gate import WEIGHTS_FIX
from analysis.recording import load_with_recording

log = logging.getLogger("netlens.gate")


def open_weights(data: bytes):
    """The one loader for a user's weights file: (TrainedModel, its recording or None), or ValueError.
    Every error on this path, RuntimeError and MemoryError included, becomes the plain refusal."""
    try:
        return load_with_recording(data)
    except ValueError:
        raise
    except (Exception, MemoryError) as e:  # noqa: BLE001 - anything else is a file we cannot use
        log.warning("weights file refused: %s: %s", type(e).__name__, e)
        raise ValueError(f"This weights file could not be loaded. {WEIGHTS_FIX}") from None
