"""Projection mode a back row can read (issues 12 and 31), checked in a real browser on every page in
the navigation and on the states pages open into (the sweep with one and two settings, every Trust tab
with its expanders open, Over training): every chart text >= 20 px with >= 7:1 contrast (>= 4.5:1 on
data-coloured cells), no chart text over another's box, no plotting area squeezed (narrower than a third
of its chart or lower than 150 px), no word of a title broken over two lines, nothing clipped or
spilling, no fewer chart texts than in normal mode, bigger metrics, tables without sideways scrolling,
no empty chart boxes. Pages added later are checked too. One server, one browser, one page per size."""
from __future__ import annotations

from collections import Counter

import pytest

from dashboard.core import pages as nav
from tests.browser_audit import audit_page
from tests.helpers import idle, shot
from tests.servers import SIDEBAR, run_sweep, settled

pytestmark = pytest.mark.browser

PAGES = [p for p in nav.PAGES if not p.hidden]
SWEEP = "data=digits&model=logreg&epochs=1&seeds=1&vary=lr&values=0.001,0.01,0.1"
CONFIGS = [(1400, 1000, False), (1400, 1000, True), (1280, 800, False), (1280, 800, True)]
QUERY = {"train": "model=logreg&epochs=1"}  # a model that trains in a second


def _ready(page, url_path: str) -> None:
    """Bring the page to its fullest state: a trained model, a map, an answer."""
    idle(page, 180_000)
    if url_path == "train":
        page.get_by_role("button", name="Train").click()
        page.get_by_text("Validation accuracy", exact=True).first.wait_for(timeout=120_000)
        idle(page, 180_000)
        page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')]
            .filter(gd => gd.querySelectorAll('text').length > 50).length >= 1""", timeout=60_000)  # the matrix
    elif url_path == "predict":
        page.get_by_text("A test digit", exact=True).click()
        page.get_by_text("What each model says").wait_for(timeout=180_000)
    elif url_path == "representations":
        page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=240_000)


def _open_expanders(page) -> None:
    """Open every closed expander in the page's main part (what a teacher would show)."""
    for _ in range(20):
        closed = page.locator('[data-testid="stMain"] [data-testid="stExpander"] details:not([open]) > summary'
                              ' >> visible=true')  # in the tab on show
        if not closed.count():
            return
        closed.first.click()
        idle(page, 180_000)


# Every change of the app's connection to its server, kept in the page (window.__connection) for a failure's message.
CONNECTION_LOG = """new MutationObserver(records => { for (const r of records) {
  (window.__connection = window.__connection || []).push(
    [Math.round(performance.now() / 1000), r.target.getAttribute('data-test-connection-state')]); } })
  .observe(document, {attributes: true, subtree: true, attributeFilter: ['data-test-connection-state']});"""


def _sweep(page, runs: int) -> None:
    """The sweep run to its result (benchmarks/a11y.py's run_sweep: a press that starts nothing is made again);
    if the result does not come, say what the page showed instead and the app's connection to its server."""
    try:
        run_sweep(page, runs)
    except Exception as e:
        shown = page.locator('[data-testid="stMain"]').inner_text()
        connection = page.evaluate("() => window.__connection || []")
        raise AssertionError(f"the sweep's result did not come (connection: {connection}); the page "
                             f"said:\n{shown[-3000:]}") from e


def _trust_tab(name: str):
    def go(page) -> None:
        page.get_by_text("Which ink made the answer").wait_for(timeout=300_000)  # the default models trained
        idle(page, 180_000)
        if name:
            page.get_by_role("tab", name=name).click()
            idle(page, 180_000)
        _open_expanders(page)
    return go


# States a page opens into, beyond its first look: (name, address, how to get there).
STATES = [
    ("sweep-one-setting", f"train?{SWEEP}", lambda page: _sweep(page, 3)),
    ("sweep-two-settings", f"train?{SWEEP}&vary2=batch_size&values2=32,64", lambda page: _sweep(page, 6)),
    ("trust-why", "trust", _trust_tab("")),
    ("trust-how-sure", "trust", _trust_tab("How sure")),
    ("trust-hold-up", "trust", _trust_tab("Does it hold up")),
]
# Over training needs a model trained in the visiting session (its recording): not among these fresh-session
# states; its projector layout is checked by tests/test_projection.py (the animated map's figure).


def _visit(page, address: str, prepare, present: bool, sidebar_open: bool | None = None) -> None:
    sep = "&" if "?" in address else "?"
    page.context.clear_cookies()  # each visit a new student: no saved work of the last visit comes back (issue 33)
    page.goto(f"{page.base_url}/{address}" + (f"{sep}present=1" if present else ""))
    page.locator('[data-testid="stMain"]').wait_for()
    idle(page, 180_000)
    if sidebar_open is not None:
        _set_sidebar(page, sidebar_open)
    prepare(page)
    idle(page, 180_000)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(gd => gd.checkVisibility()).every(gd => gd.querySelector('.main-svg text'))""", timeout=60_000)
    settled(page)  # charts finish drawing after the run ends: their boxes and texts keep still


def _sidebar_width(page) -> float:
    return page.evaluate(
        "() => document.querySelector('[data-testid=\"stSidebar\"]')?.getBoundingClientRect().width || 0"
    )


def _set_sidebar(page, want_open: bool) -> None:
    """Open or close the sidebar with its own buttons, as a teacher would."""
    for _ in range(3):
        settled(page, SIDEBAR)  # an opening/closing animation has finished
        if (_sidebar_width(page) > 50) == want_open:
            return
        button = page.locator('[data-testid="stExpandSidebarButton"]' if want_open
                              else '[data-testid="stSidebarCollapseButton"] button')
        if button.count():
            button.first.click(force=True)
    assert (_sidebar_width(page) > 50) == want_open, "could not set the sidebar"


def _open(page, info, present: bool, sidebar_open: bool | None = None):
    """A page of the navigation, brought to its fullest state (_ready)."""
    query = QUERY.get(info.url_path)
    _visit(page, info.url_path + (f"?{query}" if query else ""), lambda p: _ready(p, info.url_path), present,
           sidebar_open)


@pytest.fixture(scope="module")
def normal(browser, app_url):
    """Each page in normal mode at 1400x1000: how many chart texts, how big the metrics."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(CONNECTION_LOG)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.base_url = app_url
    found = {}
    for info in PAGES:
        _open(page, info, present=False)
        found[info.url_path] = audit_page(page, min_px=0, min_contrast=0, min_cell_contrast=0)
    for name, address, prepare in STATES:
        _visit(page, address, prepare, present=False)
        found[name] = audit_page(page, min_px=0, min_contrast=0, min_cell_contrast=0)
        shot(page, f"normal-{name}")
    context.close()
    return found


@pytest.mark.parametrize("width, height, sidebar_open", CONFIGS, ids=lambda v: str(v))
def test_every_page_reads_from_the_back_row(browser, app_url, normal, width, height, sidebar_open):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(CONNECTION_LOG)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.base_url = app_url
    problems = []
    side = "open" if sidebar_open else "closed"

    def visits():
        for info in PAGES:
            _open(page, info, present=True, sidebar_open=sidebar_open)
            yield info.url_path, info.url_path or "home"
        for name, address, prepare in STATES:
            _visit(page, address, prepare, present=True, sidebar_open=sidebar_open)
            yield name, name

    try:
        for key, name in visits():
            shot(page, f"present-{name}-{width}-{side}")
            found = audit_page(page)
            where = f"{name} at {width}x{height}, sidebar {side}"
            base = normal[key]
            # Axis tick labels are chosen by Plotly for the chart's width (fewer on a narrower chart is no text
            # deleted to avoid an overlap); every other chart text (titles, cell and bar labels, legends) counts.
            shown = Counter(t["text"] for t in found.texts if not t.get("tick"))
            before = Counter(t["text"] for t in base.texts if not t.get("tick"))
            if sum(shown.values()) < sum(before.values()):  # charts still being redrawn (a reconnect's rerun)?
                idle(page, 180_000)
                settled(page, quiet_ms=2000)
                found = audit_page(page)  # looked at once more: what is missing now is missing
                shown = Counter(t["text"] for t in found.texts if not t.get("tick"))
            problems += [f"{where}: {p}" for p in found.problems]
            if sum(shown.values()) < sum(before.values()):
                missing = before - shown
                problems.append(f"{where}: {sum(shown.values())} chart texts (not ticks), {sum(before.values())} "
                                f"in normal mode; missing {sorted(missing.elements())[:12]} (connection: "
                                f"{page.evaluate('() => window.__connection || []')})")
            if found.canvases:
                problems.append(
                    f"{where}: {found.canvases} st.dataframe canvas tables (use st.table in projection mode)"
                )
            if base.metrics and (not found.metrics or min(found.metrics) <= max(base.metrics)):
                problems.append(f"{where}: metrics {found.metrics} px not larger than in normal mode {base.metrics}")
    finally:
        context.close()
    assert not problems, "\n".join(problems[:60]) + (f"\n… and {len(problems) - 60} more" if len(problems) > 60 else "")
