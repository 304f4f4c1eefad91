"""Opening a user's zip of images as work: ``image_zip``, a worker task run in its own process by
dashboard/core/untrusted.py, with the gate's caps and a time limit. The checks themselves are
analysis/gate.py's. This module must not import torch (nor anything that does): the zip's worker
process would carry ~450 MB of it for nothing (a test checks). A user's weights file: untrusted_weights."""
from __future__ import annotations

from typing import Callable

from analysis import datasets
from analysis.gate import (
    MAX_CLASSES,
    ZIP_ENTRY_MAX_PIXELS,
    ZIP_MAX_ENTRIES,
    ZIP_TOTAL_MAX_PIXELS,
    zip_entry_count,
)


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
