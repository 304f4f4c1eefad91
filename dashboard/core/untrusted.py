"""The pages' side of the gate (analysis/gate.py) for the two inputs that need more than a header
check in the script thread:

- ``decode_zip(data, name)``: a dataset zip is decoded in a separate worker process (an
  `analysis.compute.workers.ProcessExecutor` of its own, one worker without torch, at a lower CPU
  priority), its memory reserved from the server's budget first (dashboard.core.memory, the place in
  line shown) and with a time limit of ZIP_TIME_LIMIT_S: a thread cannot be stopped mid-decode,
  a process can. While it waits, the page gives its feature page slot back
  (runtime.slot_released), so one zip never holds a slot. NETLENS_WORKERS=0 (no worker
  processes on this host): in the script thread, the same caps, the limit checked between entries.
- ``canvas_picture(result)``: the drawing canvas's picture, read by the gate (the component
  library never decodes it).
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from analysis import gate
from analysis.compute import tasks, workers
from analysis.datasets import Dataset
from dashboard.core import memory, runtime, server

log = logging.getLogger(__name__)
ZIP_TIME_LIMIT_S = 30.0  # the decode itself; a 1,000-PNG zip of digits takes about a second
ZIP_WAIT_S = 120.0  # in line for the zip worker, before saying the server is busy
TOO_SLOW = ("Refused the zip: unpacking its images took longer than {:.0f} s, so it was stopped. "
            "Upload fewer or smaller images (they are shrunk to 64×64 anyway).")
BUSY = "The server is busy unpacking other zips right now. Please try again in a minute."

_lock = threading.Lock()
_executor = None


def zip_executor():
    """The zip decoder's executor, created on first use (one worker process, no torch)."""
    global _executor
    with _lock:
        if _executor is None:

            jobs = {"image_zip": "analysis.compute.untrusted_files:image_zip"}
            _executor = (tasks.InlineExecutor(tasks=jobs) if server.WORKERS == 0 else
                         workers.ProcessExecutor(max_workers=1, threads_per_worker=1, tasks=jobs, stop_grace_s=1.0,
                                                 start_timeout_s=60.0, torch_threads=False))
        return _executor


def decode_zip(data: bytes, name: str) -> Dataset:
    """A Dataset from a user's zip, decoded in the zip worker under the budget and the time limit;
    ValueError (plain words) for anything refused, stopped or lost."""

    gate.zip_entry_count(data)  # the cheap refusal first, before a process or any memory is involved
    clock = {"start": None, "asked": time.monotonic()}

    def on_progress(_progress=None, message=None, *_latest) -> None:
        if message == "unpacking" and clock["start"] is None:
            clock["start"] = time.monotonic()

    def should_stop() -> bool:
        if clock["start"] is None:
            return time.monotonic() - clock["asked"] > ZIP_WAIT_S
        return time.monotonic() - clock["start"] > ZIP_TIME_LIMIT_S

    with memory.held(gate.zip_bytes(len(data)), "unpacking a .zip of images", hint="upload fewer or smaller images"):
        with runtime.slot_released():
            try:
                ds = zip_executor().run("image_zip", {"data": bytes(data), "name": name},
                                        on_progress=on_progress, should_stop=should_stop)
            except workers.WorkerDied as e:
                log.warning("zip worker ended: %s", e)
                ds = None
    if ds is None:
        raise ValueError(BUSY if clock["start"] is None else TOO_SLOW.format(ZIP_TIME_LIMIT_S))
    return ds


def canvas_picture(result, width: int, height: int) -> np.ndarray | None:
    """The canvas's RGBA picture (height, width, 4), None when it has not reported one yet;
    ValueError(gate.CANVAS_REFUSAL) for anything but its own PNG. Reads the data URL the component
    received (``CanvasResult._image_data_url``) rather than its ``image_data``, which would let
    Pillow open any format of any size."""
    url = getattr(result, "_image_data_url", None)
    if url is None:
        return None
    return gate.canvas_picture(url, width, height)
