"""Page speed on /convolution in a real browser: a kernel change on a 12 MP photo, from the key press
to the new picture on screen (the bar that tests/test_browser_convolution.py once asserted).

A fresh server (benchmarks/server.py, no warm-up) and Debian's Chromium through Playwright; the photo
(4000 × 3000, made here) is uploaded, the page works on its 1,400 px copy; then, `--runs` times, the
Kernel size slider goes from 3 to 31 (End) with "Gaussian blur" chosen, timed until the 31×31 result's
caption and every image on the page are rendered, and back to 3 (Home, not timed). Prints per run

    CONV_PAGE run=<i> seconds=<s>

and `PASS`/`FAIL` for the median against the bar (under 5 s).

    python benchmarks/convolution_page.py            # 3 runs, about a minute
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.keyboard_tasks import idle  # noqa: E402
from benchmarks.server import Server  # noqa: E402

BAR_S = 5.0
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ALL_IMAGES_DRAWN = "[...document.images].every(i => i.complete && i.naturalWidth > 0)"


def photo(path: Path, w: int = 4000, h: int = 3000) -> Path:
    """A smooth, photo-like JPEG (gradients and a disc), as the browser test makes."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 127 + 120 * np.sin(xx / w * 6) * np.cos(yy / h * 4)
    g = 255 * (yy / h)
    b = np.where((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 4) ** 2, 230, 40)
    Image.fromarray(np.dstack([r, g, b]).astype(np.uint8)).save(path, quality=90)
    return path


def measure(base: str, folder: Path, runs: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{base}/convolution")
        page.get_by_text("After: Box blur (3×3)").wait_for()
        page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
            str(photo(folder / "big.jpg")))
        page.get_by_text("1400 × 1050 → 1398 × 1048").wait_for()
        idle(page, 60_000)
        for attempt in range(3):  # a rerun landing mid-click can close the list: try again (as the tests do)
            page.get_by_role("combobox", name="Kernel").click()
            try:
                page.get_by_role("option", name="Gaussian blur", exact=True).click(timeout=5_000)
                break
            except Exception:
                if attempt == 2:
                    raise
                page.keyboard.press("Escape")
        page.get_by_text("After: Gaussian blur (3×3)").wait_for()
        idle(page, 60_000)
        slider = page.get_by_role("slider", name="Kernel size")
        times = []
        for _ in range(runs):
            slider.focus()
            start = time.perf_counter()
            slider.press("End")
            page.get_by_text("After: Gaussian blur (31×31)").wait_for()
            page.wait_for_function(ALL_IMAGES_DRAWN)
            times.append(time.perf_counter() - start)
            slider.focus()
            slider.press("Home")
            page.get_by_text("After: Gaussian blur (3×3)").wait_for()
            idle(page, 60_000)
        browser.close()
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), env={"NETLENS_WARM": "0"}, unset=("NETLENS_PASSWORD",))
        try:
            times = measure(server.base, Path(tmp), args.runs)
        finally:
            server.stop()
    for i, s in enumerate(times, 1):
        print(f"CONV_PAGE run={i} seconds={s:.2f}")
    median = statistics.median(times)
    ok = median < BAR_S
    print(f"{'PASS' if ok else 'FAIL'} 12 MP kernel change to a 31×31 Gaussian blur: median {median:.2f} s "
          f"(bar: under {BAR_S:g} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
