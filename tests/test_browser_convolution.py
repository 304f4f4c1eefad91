"""Real browser (Playwright + Debian's Chromium): what a user does on /convolution."""
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("NETLENS_SCREENSHOTS")


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def photo(path: Path, w: int, h: int) -> Path:
    """A smooth, photo-like JPEG (gradients and shapes) of w × h pixels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 127 + 120 * np.sin(xx / w * 6) * np.cos(yy / h * 4)
    g = 255 * (yy / h)
    b = np.where((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 4) ** 2, 230, 40)
    Image.fromarray(np.dstack([r, g, b]).astype(np.uint8)).save(path, quality=90)
    return path


def upload(page, path, label: str | None = None):
    """Choose a file in the uploader (the one whose label contains `label`, else the first)."""
    uploaders = page.locator('[data-testid="stFileUploader"]')
    if label:
        uploaders = uploaders.filter(has_text=label)
    uploaders.first.locator('input[type="file"]').set_input_files(str(path))


def idle(page, timeout=60_000):
    """Wait until the app has finished its current run (no 'Running…' indicator)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def choose(page, label, option):
    """Open the selectbox labelled `label` and pick `option`, as a user would."""
    idle(page)
    for attempt in range(3):  # a rerun landing mid-click can close the list: try again
        page.get_by_role("combobox", name=label).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def test_upload_photo_bad_file_then_photo_again(page, tmp_path):
    page.goto(f"{page.base_url}/convolution")
    page.get_by_text("After: Box blur (3×3)").wait_for()
    shot(page, "convolution-default")
    page.get_by_text("Step by step").scroll_into_view_if_needed()
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("row 1, column 2").wait_for()
    shot(page, "convolution-step")

    upload(page, photo(tmp_path / "street.jpg", 800, 600))
    page.get_by_text("800 × 600 → 798 × 598").wait_for()
    page.get_by_text("Before: Your picture: street.jpg").wait_for()

    bad = tmp_path / "notes.png"
    bad.write_text("this is a text file, not a picture")
    upload(page, bad)
    page.get_by_text("Could not use “notes.png”").wait_for()
    assert page.get_by_text("800 × 600 → 798 × 598").is_visible()  # the good picture stays
    shot(page, "convolution-bad-upload")

    upload(page, photo(tmp_path / "big.jpg", 4000, 3000))  # 12 MP: the page works on a 1,400 px copy, and says so
    page.get_by_text("1400 × 1050 → 1398 × 1048").wait_for(timeout=60_000)
    assert page.get_by_text("Your photo is 4000 × 3000 pixels").is_visible()
    assert not page.get_by_text("Could not use").is_visible()
    with page.expect_download(timeout=90_000) as download:  # the download filters the full-size photo
        page.get_by_role("button", name="Download the result").click()
    from PIL import Image

    with Image.open(download.value.path()) as result:
        assert result.size == (3998, 2998)

    choose(page, "Kernel", "Gaussian blur")
    page.get_by_text("After: Gaussian blur (3×3)").wait_for()
    page.get_by_text("1400 × 1050 → 1398 × 1048").wait_for()
    # A kernel change on the 12 MP photo: a 31×31 blur, timed from the click to the new picture.
    slider = page.get_by_role("slider", name="Kernel size")
    slider.focus()
    start = time.perf_counter()
    slider.press("End")
    page.get_by_text("After: Gaussian blur (31×31)").wait_for(timeout=60_000)
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)
    seconds = time.perf_counter() - start
    print(f"\nRERUN 12MP gauss31 kernel change: {seconds:.2f} s (click to rendered result, real browser)")
    shot(page, "convolution-12mp-gauss31")
    assert seconds < 5
