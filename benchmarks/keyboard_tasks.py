"""The five lecture tasks by keyboard alone ("Every student (2 of 2)", issue 37), shared by
tests/test_browser_keyboard.py and benchmarks/a11y.py (`keyboard_tasks=<done>/5`).

Each task opens its page and works it with Tab, Shift+Tab, Enter, Space, the arrow keys and typing into
the control that keyboard focus reached: no click, no fill, no element focused by script. `tab_to`
walks the focus in page order and fails when it goes round the page without finding its target, when
focus is stuck on one element (a trap), or when the focused control shows no visible ring (an outline
of at least 2px on it or on the box drawn around it). Each task raises with what it missed; returns what
it saw."""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Callable

# document.activeElement, followed into same-origin frames: a stable id per element (window.__kb), its
# tag, role, name and text, whether it (or the box drawn around it) shows an outline of 2px or more on the
# screen (not hidden, not off-screen: a collapsed sidebar's controls), and whether `match` (a JS function
# of the element) says it is the one wanted.
_FOCUS_JS = """(match) => {
  let e = document.activeElement;
  for (;;) {  // into same-origin frames and shadow roots (components)
    if (e && e.tagName === 'IFRAME' && e.contentDocument && e.contentDocument.activeElement) {
      e = e.contentDocument.activeElement; }
    else if (e && e.shadowRoot && e.shadowRoot.activeElement) { e = e.shadowRoot.activeElement; }
    else break; }
  if (!e) return {id: -1};
  window.__kb = window.__kb || {map: new WeakMap(), next: 0};
  if (!window.__kb.map.has(e)) window.__kb.map.set(e, window.__kb.next++);
  let ring = false;
  for (let a = e, up = 0; a && a.nodeType === 1 && up < 5 && !ring; a = a.parentElement, up++) {
    const cs = getComputedStyle(a), r = a.getBoundingClientRect();
    ring = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2 && cs.visibility !== 'hidden'
      && r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight;
  }
  const name = (e.getAttribute('aria-label') || e.innerText || e.value || '').trim().slice(0, 80);
  return {id: window.__kb.map.get(e), tag: e.tagName, role: e.getAttribute('role') || '', name: name,
          ring: ring || e === document.body, match: !!eval(match)(e)};
}"""


class KeyboardError(AssertionError):
    """A task could not be done by keyboard: what was looked for and where focus went."""


# The app is idle: connected to its server (while Streamlit reconnects, e.g. after a missed ping under load,
# it disables every widget: buttons and inputs leave the Tab order) and no script run under way. The run's
# state is read from stApp's data-test-script-state ("initial" before the first run, then "running",
# "notRunning" …), not from the "Running…" widget: Streamlit shows that widget only once a run has lasted
# 500 ms, so a page half drawn in a run's first half second looked idle. Nor is a page idle while an element
# still shows its placeholder: Streamlit loads each kind of element's code on first use (React.lazy; a fresh
# browser context fetches it again), and until it arrives the element is a grey "stSkeleton" with nothing in it
# to Tab to. A Tab round taken then missed whole groups of widgets (the sidebar's drop-downs, the Next button).
_CONNECTION_JS = "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testConnectionState"
IDLE_JS = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
           " return !!app && app.dataset.testConnectionState === 'CONNECTED'"
           " && app.dataset.testScriptState === 'notRunning'"
           " && !document.querySelector('[data-testid=\"stSkeleton\"], [data-testid=\"stAppSkeleton\"]')"
           " && !document.querySelector('[data-testid=\"stStatusWidget\"]'); }")


def idle(page, timeout: float = 240_000) -> None:
    """Wait until the app is connected and has finished its current run (shared by every browser check)."""
    page.wait_for_function(IDLE_JS, timeout=timeout)


# Once the app is idle, an animation (the sidebar sliding in or out) or a redraw (charts laid out again for a
# new width) is over when what it moves reads the same for a while. Each signature is a JS function of the page.
SIDEBAR = ("() => { const r = document.querySelector('[data-testid=\"stSidebar\"]')?.getBoundingClientRect();"
           " return r ? [r.x, r.width].map(Math.round).join() : 'none'; }")
CHARTS = ("() => [...document.querySelectorAll('.js-plotly-plot')].map(g => { const r = g.getBoundingClientRect();"
          " return [r.x, r.y, r.width, r.height].map(Math.round).join() + ':'"
          " + g.querySelectorAll('.main-svg text').length; }).join(';')")
SCROLL = ("() => [window.scrollY, ...[...document.querySelectorAll('[data-testid=\"stMain\"], section')]"
          ".map(e => e.scrollTop)].map(Math.round).join()")


def settled(page, signature: str = CHARTS, quiet_ms: int = 500, timeout: float = 30_000) -> None:
    """Wait until `signature` has read the same for `quiet_ms` (a condition, not a pause of fixed length)."""
    page.evaluate("() => { window.__nlSettled = null; }")
    page.wait_for_function(
        f"""quiet => {{ const now = String(({signature})()), t = performance.now(), last = window.__nlSettled;
            if (!last || last.sig !== now) {{ window.__nlSettled = {{sig: now, since: t}}; return false; }}
            return t - last.since >= quiet; }}""", arg=quiet_ms, timeout=timeout)


def focused(page, match: str = "e => false") -> dict:
    return page.evaluate(_FOCUS_JS, match)


def _ring_shows(page, timeout: float = 10_000) -> bool:
    """Whether the focused control's ring comes into view within `timeout` ms (Streamlit's skip link slides
    in from above the page when focused)."""
    try:
        page.wait_for_function(f"() => ({_FOCUS_JS})('e => false').ring", timeout=timeout)
        return True
    except Exception:  # Playwright's TimeoutError
        return False


def tab_to(page, predicate: str, what: str, max_presses: int = 200, back: bool = False) -> dict:
    """Press Tab (Shift+Tab when `back`) until the focused element satisfies `predicate` (a JS function of
    the element). Fails if focus goes round the page, sticks on one element, or shows no ring."""
    start = focused(page, predicate)
    if start["match"]:
        return start
    first, last, trail, stuck = None, start["id"], [], 0  # first: the first control passed (the page's round)
    waited = False
    for _ in range(max_presses):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(page, predicate)
        trail.append(f"{now.get('tag')}[{now.get('role')}] {now.get('name', '')[:40]!r}")
        if not now.get("ring", True) and not _ring_shows(page):
            raise KeyboardError(f"no visible focus ring on {trail[-1]} (looking for {what})")
        if now["match"]:
            return now
        stuck, last = (stuck + 1 if now["id"] == last else 0), now["id"]
        if stuck >= 3:
            raise KeyboardError(f"focus trapped on {trail[-1]} (looking for {what})")
        if now["tag"] == "BODY":  # between two rounds of the page
            continue
        if first is None:
            first = now["id"]
        elif now["id"] == first:
            state = page.evaluate(_CONNECTION_JS)
            if state != "CONNECTED" and not waited:  # reconnecting: its widgets are disabled. A person waits.
                warnings.warn(f"looking for {what}: the app was reconnecting ({state}); waited for it", stacklevel=2)
                waited, first = True, None
                idle(page)
                continue
            raise KeyboardError(f"went round the page without reaching {what} (connection: {state}): "
                                + " → ".join(trail[-40:]))
    raise KeyboardError(f"{what} not reached in {max_presses} presses: " + " → ".join(trail[-40:]))


# An element's name: its aria-label, else its text without Material icons' ligature names ("stop Stop").
_NAME = ("(e => { const a = e.getAttribute('aria-label'); if (a) return a.trim(); let t = e.innerText || '';"
         " e.querySelectorAll('[data-testid=stIconMaterial]').forEach(i => { t = t.replace(i.innerText, ''); });"
         " return t.replace(/\\s+/g, ' ').trim(); })")


def name_is(text: str) -> str:
    """A JS condition on `e`: its name (aria-label, else its own text less icons) is `text`."""
    return f"{_NAME}(e) === {text!r}"


def name_has(text: str) -> str:
    return f"{_NAME}(e).includes({text!r})"


def choose(page, label: str, option: str, many: bool = False) -> None:
    """A selectbox or multiselect (`many`) by keyboard: Tab to it, type the option, Enter (and Escape to close
    a multiselect's list, which sends the choice)."""
    tab_to(page, f"e => e.getAttribute('role') === 'combobox' && {name_is(label)}", f"the {label!r} box")
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).first.wait_for(timeout=30_000)
    page.keyboard.press("Enter")
    if many:
        page.keyboard.press("Escape")
    idle(page)


def press(page, name: str, key: str = "Enter", exact: bool = True) -> None:
    """Tab to a button by its name and press it (Enter or Space)."""
    tab_to(page, f"e => e.tagName === 'BUTTON' && {(name_is if exact else name_has)(name)}",
           f"the {name!r} button")
    page.keyboard.press(key)


def open_page(page, base: str, address: str, ready: str, timeout: float = 600_000) -> None:
    """Open a page and wait until `ready` (a text) shows and the app is idle; focus starts at the top."""
    page.goto(f"{base}/{address}")
    page.get_by_text(ready).first.wait_for(timeout=timeout)
    page.wait_for_function("[...document.querySelectorAll('style')]"
                           ".some(s => s.textContent.includes(':focus-visible'))", timeout=timeout)
    idle(page, timeout)


def seen(page, text: str | re.Pattern, timeout: float = 240_000) -> str:
    loc = page.get_by_text(text).filter(visible=True).first
    loc.wait_for(timeout=timeout)
    return loc.inner_text()


# ---------------------------------------------------------------- the five tasks

def convolution(page, base: str) -> str:
    """Choose the horizontal edge kernel, then step the window on by one position."""
    open_page(page, base, "convolution", "Step by step: where one output pixel comes from")
    choose(page, "Kernel", "Horizontal edge")
    seen(page, "Horizontal edge.")
    press(page, "Next ▶", "Space")
    return seen(page, re.compile(r"Output pixel row 1, column 2 of"))


def training(page, base: str) -> str:
    """Train the MLP (many epochs, so there is time) and stop it."""
    open_page(page, base, "train?data=mnist5k&model=mlp&epochs=50", "Training settings")
    press(page, "Train")
    # the first epoch is done (after the server's queue: its default models may be training): a model to keep
    seen(page, re.compile(r"epoch [1-9]\d* of 50"), timeout=900_000)
    tab_to(page, f"e => e.tagName === 'BUTTON' && {name_is('Stop')}", "the Stop button", back=True)
    page.keyboard.press("Enter")
    kept = page.wait_for_function("() => [...document.querySelectorAll('input[role=combobox]')].map(i => i.value)"
                                  ".find(v => /stopped at epoch \\d+/.test(v))", timeout=600_000)
    return kept.json_value()  # the stopped model, picked in Results


def representations(page, base: str) -> str:
    """Choose a layer (the probabilities, added to the maps), then select the 3s by label and see their pictures."""
    open_page(page, base, "representations?method=pca", "How well each map keeps the digits apart")
    choose(page, "Representations", "probabilities", many=True)
    page.get_by_role("cell", name=re.compile("probabilities")).first.wait_for(timeout=240_000)  # its map is drawn
    choose(page, "Select by true label", "3", many=True)
    seen(page, "What is in your selection?")
    page.locator("img[alt*='labelled 3']").first.wait_for(timeout=60_000)
    return seen(page, re.compile(r"\d+ digits selected"))


def predict(page, base: str, photo: Path) -> str:
    """Switch the digit's source to an upload by the arrow keys, open the file chooser with Enter."""
    open_page(page, base, "predict", "Where the digit comes from")
    tab_to(page, "e => e.type === 'radio' && e.checked && e.closest('[role=radiogroup]')"
                 ".getAttribute('aria-label') === 'Where the digit comes from'", "the digit's source")
    page.keyboard.press("ArrowRight")  # Draw it → Upload a photo
    page.get_by_text("Upload a photo of one digit").first.wait_for(timeout=60_000)
    idle(page)
    with page.expect_file_chooser(timeout=60_000) as chooser:
        press(page, "Upload")
    chooser.value.set_files(str(photo))
    seen(page, "How the picture becomes the model's input")
    return seen(page, "What each model says")


def trust(page, base: str) -> str:
    """Choose test digit 1 with the arrow keys, open "Why this answer" and read the sanity check's verdict."""
    open_page(page, base, "trust", "Which ink made the answer")
    tab_to(page, f"e => e.tagName === 'INPUT' && {name_is('Test digit number')}", "the test digit number")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    seen(page, "test digit 1;")  # the digit changed (its explanation is drawn in the same run)
    idle(page)
    tab_to(page, f"e => e.getAttribute('role') === 'tab' && {name_has('Why this answer')}", "the tab")
    page.keyboard.press("Enter")
    idle(page)
    seen(page, "The verdict.")
    return seen(page, re.compile(r", Occlusion: [A-Z ]+"))


TASKS: dict[str, Callable] = {"convolution": convolution, "training": training, "representations": representations,
                              "predict": predict, "trust": trust}


def keyboard_task(name: str, page, base: str, photo: Path) -> str:
    """Task `name` on a fresh page (Predict's upload gets `photo`); what it saw, or it raises."""
    page.set_default_timeout(60_000)
    return TASKS[name](page, base, photo) if name == "predict" else TASKS[name](page, base)


def tour(page, max_presses: int = 300) -> list[str]:
    """Tab once round the whole page from its top, in page order, every stop with a visible ring (tab_to's
    checks). Returns the stops ('TAG[role] name')."""
    first = tab_to(page, "e => e !== document.body", "the first control", max_presses=3)
    stops = [f"{first['tag']}[{first['role']}] {first['name'][:40]!r}"]
    here = f"e => window.__kb.map.get(e) === {first['id']}"
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        now = focused(page, here)
        if now["match"]:
            return stops
        if not now.get("ring", True) and not _ring_shows(page):
            raise KeyboardError(f"no visible focus ring on {now['tag']}[{now['role']}] {now['name'][:40]!r}")
        stops.append(f"{now['tag']}[{now['role']}] {now['name'][:40]!r}")
    raise KeyboardError(f"focus did not come round in {max_presses} presses: " + " → ".join(stops[-20:]))


KEYBOARD_TASKS = list(TASKS)
