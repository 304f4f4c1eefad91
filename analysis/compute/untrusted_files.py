"""Opening a user's files as work: a zip of images decoded as a worker task (``image_zip``, run in
its own process by dashboard/core/untrusted.py, with the gate's caps and a time limit) and the one
loader for a user's weights file (``open_weights``). The checks themselves are analysis/gate.py's."""
from __future__ import annotations

import logging
from typing import Callable

from analysis import datasets
from analysis.gate import (
    MAX_CLASSES,
    WEIGHTS_FIX,
    ZIP_ENTRY_MAX_PIXELS,
    ZIP_MAX_ENTRIES,
    ZIP_TOTAL_MAX_PIXELS,
    zip_entry_count,
)
from analysis.recording import load_with_recording

log = logging.getLogger("netlens.gate")


def image_zip(report: Callable, should_stop: Callable[[], bool], *, data: bytes, name: str = "my images"):
    """The worker task: a Dataset from the zip (analysis.datasets.load_image_zip with the gate's caps),
    or ValueError. ``should_stop()`` (the time limit) is checked between entries: None when it stops."""
    report(0.0, "unpacking")
    zip_entry_count(data)
    ds = datasets.load_image_zip(data, name=name, max_entries=ZIP_MAX_ENTRIES,
                                 max_entry_pixels=ZIP_ENTRY_MAX_PIXELS, max_total_pixels=ZIP_TOTAL_MAX_PIXELS,
                                 should_stop=should_stop)
    if ds is not None and ds.n_classes > MAX_CLASSES:
        raise ValueError(f"Refused the zip: it has {ds.n_classes:,} class folders; NetLens trains on 2 to "
                         f"{MAX_CLASSES}. Put fewer classes in the zip.")
    return ds


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
