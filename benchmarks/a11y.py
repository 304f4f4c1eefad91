"""Accessibility audit (issue 36): axe-core (WCAG 2.0/2.1/2.2 A and AA, no rule disabled, every frame; see
tests/axe_audit.py) on every page of the navigation in normal and projection mode and a 390x844 phone
view, and on the states pages open into (a trained model, maps drawn, Over training, Predict with a
photo, each Trust tab, the sweep, the glossary, /admin). Prints each violation and incomplete result, then

  A11Y pages=<n> states=<n> violations=<n> incomplete=<n> images=<n> images_described=<n> charts=0
       charts_described=0 keyboard_tasks=0/0

(violations counts elements; charts: Plotly charts in every state, charts_described: those with their
"Chart: …" summary just before and "Show as table" just after (tests/axe_audit.charts); keyboard_tasks: the five
lecture tasks of benchmarks/keyboard_tasks.py done by keyboard alone, "keyboard" in --only to run only them).
Usage: python benchmarks/a11y.py [--only NAME,...] [--shots DIR]"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from analysis.datasets import load_dataset  # noqa: E402
from benchmarks.keyboard_tasks import KEYBOARD_TASKS, idle, keyboard_task, settled  # noqa: E402
from benchmarks.server import Server  # noqa: E402
from dashboard.core import pages as nav  # noqa: E402
from tests.axe_audit import EXCLUDED, audit, charts, images  # noqa: E402
from tests.helpers import paper_photo  # noqa: E402

CHROMIUM = os.environ.get("NETLENS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
A11Y_ADMIN_PASSWORD = "a11y-admin-password"
SWEEP = "data=digits&model=logreg&epochs=1&seeds=1&vary=lr&values=0.001,0.01,0.1"
DESKTOP = (1400, 1000)
PHONE = (390, 844)


def _train(page) -> None:
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Validation accuracy", exact=True).first.wait_for(timeout=180_000)


def run_sweep(page, runs: int = 3) -> None:
    """Open Training's sweep, press Run once the page is idle, and wait for the result. Now and then a press starts
    nothing (no progress, the Run button still there; its cause is not found): as a person would, press again
    when nothing has started after 60 s (at most three presses), with a warning. Used by the projection test too."""
    page.get_by_text("Try several settings (a small sweep)").click()
    start = page.get_by_role("button", name=f"Run the sweep ({runs} runs)")
    started = page.get_by_text(re.compile(r"^Sweep: \d+ of \d+ runs finished|Best by validation accuracy:"))
    for press in range(3):
        start.wait_for(timeout=120_000)
        idle(page, 180_000)
        start.click()
        try:
            started.first.wait_for(timeout=60_000)
            break
        except Exception:  # Playwright's TimeoutError
            warnings.warn(f"nothing had started 60 s after press {press + 1} of the sweep's Run button", stacklevel=2)
    page.get_by_text("Best by validation accuracy:").wait_for(timeout=600_000)  # the result, not the intro


def _maps(page) -> None:
    page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=240_000)


def _over_training(page) -> None:
    _maps(page)
    page.get_by_role("radio", name="Over training").click()
    page.locator(".st-key-rep_replay_method").get_by_text("PCA", exact=True).click(timeout=180_000)  # the replay's own
    page.locator(".updatemenu-button").filter(has_text="Play").wait_for(timeout=240_000)


def _test_digit(page) -> None:
    page.get_by_text("A test digit", exact=True).click()
    page.get_by_text("What each model says").wait_for(timeout=180_000)


def _photo_file() -> Path:
    ds = load_dataset("mnist5k")
    path = Path(tempfile.mkdtemp(prefix="a11y-")) / "three.png"
    Image.fromarray(paper_photo(ds.images[np.flatnonzero(ds.labels == 3)[5]])).save(path)
    return path


def _photo(page) -> None:
    page.get_by_text("Where the digit comes from").wait_for(timeout=180_000)
    page.get_by_text("Upload a photo", exact=True).click()
    idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(_photo_file()))
    page.get_by_text("How the picture becomes the model's input").wait_for(timeout=120_000)


def _trust(tab: str):
    def go(page) -> None:
        page.get_by_text("Which ink made the answer").wait_for(timeout=300_000)
        idle(page)
        if tab:
            page.get_by_role("tab", name=tab).click()
    return go


def _admin(page) -> None:
    box = page.get_by_label("Admin password")
    box.wait_for(timeout=60_000)
    box.fill(A11Y_ADMIN_PASSWORD)
    box.press("Enter")
    page.get_by_text("Sessions").first.wait_for(timeout=60_000)


def _nothing(page) -> None:
    pass


def _text(words: str):
    def go(page) -> None:
        page.get_by_text(words).first.wait_for(timeout=300_000)  # the default models are ready
    return go


# A page's first look, once what it waits for (the server's default models) is there.
FIRST_LOOK = {"predict": _text("Where the digit comes from"), "trust": _text("Which ink made the answer"),
              "representations": _maps}


def a11y_states() -> list[tuple[str, str, object, tuple[int, int]]]:
    """(name, address, how to get there, viewport): every page in both modes and on a phone, then states."""
    out = []
    for info in nav.PAGES:
        if info.hidden:
            continue
        for mode, query, size in (("", "", DESKTOP), ("present", "present=1", DESKTOP), ("phone", "", PHONE)):
            name = "-".join(x for x in (info.url_path or "home", mode) if x)
            out.append((name, info.url_path + (f"?{query}" if query else ""),
                        FIRST_LOOK.get(info.url_path, _nothing), size))
    out += [
        ("train-trained", "train?model=logreg&epochs=1", _train, DESKTOP),
        ("train-trained-present", "train?model=logreg&epochs=1&present=1", _train, DESKTOP),
        ("train-sweep", f"train?{SWEEP}", run_sweep, DESKTOP),
        ("representations-over-training", "representations", _over_training, DESKTOP),
        ("predict-test-digit", "predict", _test_digit, DESKTOP),
        ("predict-photo", "predict", _photo, DESKTOP),
        ("trust-why", "trust", _trust(""), DESKTOP),
        ("trust-how-sure", "trust", _trust("How sure"), DESKTOP),
        ("trust-hold-up", "trust", _trust("Does it hold up"), DESKTOP),
        ("trust-why-present", "trust?present=1", _trust(""), DESKTOP),
        ("admin", "admin", _admin, DESKTOP),
    ]
    return out


def a11y_visit(browser, base: str, name: str, address: str, prepare, size, shots: Path | None):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(f"{base}/{address}")
        page.locator('[data-testid="stMain"]').wait_for(timeout=120_000)
        idle(page)
        prepare(page)
        idle(page)
        page.wait_for_function("""() => [...document.querySelectorAll('iframe')].every(
            f => !f.contentDocument || f.contentDocument.readyState === 'complete')""", timeout=60_000)
        settled(page)  # charts finish drawing after the run ends: their boxes and texts keep still
        # the page's own style (dashboard/core/chrome.py BASE_CSS: captions fully opaque, dark) is in place: axe saw
        # Streamlit's faded captions once (3.9:1) in the moment a rerun's elements were still being replaced
        page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .every(e => getComputedStyle(e).opacity === '1')""", timeout=60_000)
        if shots:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        return audit(page), images(page), charts(page)
    finally:
        context.close()


def keyboard_tasks(browser, base: str) -> int:
    """The five lecture tasks by keyboard alone, each on a fresh page; prints each; returns how many were done."""
    done, photo = 0, _photo_file()
    for name in KEYBOARD_TASKS:
        context = browser.new_context(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
        try:
            print(f"[keyboard {name}] done: {keyboard_task(name, context.new_page(), base, photo)}", flush=True)
            done += 1
        except Exception as e:  # a task the keyboard could not do is reported, not hidden
            print(f"[keyboard {name}] NOT DONE: {str(e).splitlines()[0][:300]}", flush=True)
        finally:
            context.close()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated state names (default: all)")
    parser.add_argument("--shots", default="", help="folder for a screenshot of each state")
    args = parser.parse_args()
    chosen = [s for s in a11y_states() if not args.only or s[0] in args.only.split(",")]
    keys = "0/0"
    shots = Path(args.shots) if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    print("excluded (Streamlit's own chrome):", *(f"  {k}: {v}" for k, v in EXCLUDED.items()), sep="\n")
    server = Server(Path(tempfile.mkdtemp(prefix="a11y-server-")), env={"NETLENS_ADMIN_PASSWORD": A11Y_ADMIN_PASSWORD})
    totals = dict(violations=0, incomplete=0, images=0, described=0, charts=0, charts_described=0, failed=0)
    pages = set()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, address, prepare, size in chosen:
                try:
                    result, (n_img, n_alt), (n_ch, n_said) = a11y_visit(browser, server.base, name, address,
                                                                        prepare, size, shots)
                except Exception as e:  # a state that could not be reached is reported, not hidden
                    totals["failed"] += 1
                    print(f"[{name}] NOT REACHED: {str(e).splitlines()[0][:200]}", flush=True)
                    continue
                pages.add(address.split("?")[0])
                totals["violations"] += result.violation_nodes
                totals["incomplete"] += sum(len(v["nodes"]) for v in result.incomplete)
                totals["images"] += n_img
                totals["described"] += n_alt
                totals["charts"] += n_ch
                totals["charts_described"] += n_said
                print(f"[{name}] frames={result.frames} violations={result.violation_nodes} "
                      f"images={n_img} described={n_alt} charts={n_ch} charts_described={n_said}", flush=True)
                if result.violations:
                    print(result.describe("violations"), flush=True)
                if result.incomplete:
                    print("  incomplete:\n" + result.describe("incomplete"), flush=True)
            if not args.only or "keyboard" in args.only.split(","):
                keys = f"{keyboard_tasks(browser, server.base)}/{len(KEYBOARD_TASKS)}"
            browser.close()
    finally:
        server.stop()
    reached = len(chosen) - totals["failed"]
    print(f"A11Y pages={len(pages)} states={reached} violations={totals['violations']} "
          f"incomplete={totals['incomplete']} images={totals['images']} images_described={totals['described']} "
          f"charts={totals['charts']} charts_described={totals['charts_described']} keyboard_tasks={keys}"
          + (f" not_reached={totals['failed']}" if totals["failed"] else ""))


if __name__ == "__main__":
    main()
