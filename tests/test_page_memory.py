"""The memory budget on a page (AppTest, a small NETLENS_MEMORY_MB-like budget): a photo whose
decode could never fit is refused with the plain message; one that does not fit yet waits in
line (its place in the budget's line) and completes once the memory is given back."""
from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from analysis.compute.budget import MB, MemoryBudget, convolution_bytes, image_decode_bytes
from dashboard.core import server
from dashboard.core.guard import unplain

PAGE = "../pages/convolution.py"  # relative to this file


def png_bytes(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def small_budget(monkeypatch):
    def make(mb: int) -> MemoryBudget:
        budget = MemoryBudget(mb * MB)
        monkeypatch.setattr(server, "MEMORY", budget)
        return budget
    return make


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_a_photo_that_could_never_fit_is_refused_plainly(small_budget):
    budget = small_budget(20)
    assert image_decode_bytes(2000, 1500) > 20 * MB
    at = page()
    at.file_uploader(key="conv_upload").set_value(("big.png", png_bytes(1500, 2000), "image/png")).run()
    assert not at.exception
    assert any("This needs more memory than the server has; try a smaller photo" in unplain(e.value) for e in at.error)
    assert budget.stats()["reserved_bytes"] == 0 and not budget.stats()["waiting"]


def test_work_that_does_not_fit_yet_waits_in_line_then_completes(small_budget):
    budget = small_budget(40)
    assert image_decode_bytes(1000, 800) < 40 * MB and convolution_bytes(1000, 800) < 40 * MB
    at = page()
    other = budget.try_reserve(32 * MB, "another session", "filtering another photo")
    other.__enter__()  # held, in use (another session's work running)
    at.file_uploader(key="conv_upload").set_value(("mine.png", png_bytes(800, 1000), "image/png"))
    runner = threading.Thread(target=at.run, daemon=True)
    runner.start()
    seen, deadline = None, time.monotonic() + 60
    while time.monotonic() < deadline and not seen:
        seen = [w for w in budget.stats()["waiting"] if "1000×800" in w["label"]]
        time.sleep(0.05)
    assert seen and seen[0]["position"] == 1, budget.stats()
    other.release()
    runner.join(60)
    assert not runner.is_alive(), "the page never got its memory"
    assert not at.exception and not at.error
    assert any("1000 × 800" in m.value for m in at.markdown)  # the filtered photo's size line
    assert budget.stats()["reserved_bytes"] == 0
