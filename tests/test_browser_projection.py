"""Projection mode a back row can read (issue 12), checked in a real browser on every page in
the navigation: every chart text >= 20 px with >= 7:1 contrast (>= 4.5:1 on data-coloured cells),
nothing clipped or spilling, no fewer chart texts than in normal mode, bigger metrics, tables
without sideways scrolling, no empty chart boxes. Pages added later are checked too."""
from __future__ import annotations

from collections import Counter

import pytest

from dashboard.core import pages as nav
from tests.browser_audit import audit_page
from tests.helpers import idle, shot

pytestmark = pytest.mark.browser

PAGES = [p for p in nav.PAGES if not p.hidden]
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
    idle(page, 180_000)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(gd => gd.checkVisibility()).every(gd => gd.querySelector('.main-svg text'))""", timeout=60_000)
    page.wait_for_timeout(2000)  # charts finish drawing after the run ends


def _sidebar_width(page) -> float:
    return page.evaluate(
        "() => document.querySelector('[data-testid=\"stSidebar\"]')?.getBoundingClientRect().width || 0"
    )


def _set_sidebar(page, want_open: bool) -> None:
    """Open or close the sidebar with its own buttons, as a teacher would."""
    for _ in range(3):
        page.wait_for_timeout(700)  # let an opening/closing animation finish
        if (_sidebar_width(page) > 50) == want_open:
            return
        button = page.locator('[data-testid="stExpandSidebarButton"]' if want_open
                              else '[data-testid="stSidebarCollapseButton"] button')
        if button.count():
            button.first.click(force=True)
    assert (_sidebar_width(page) > 50) == want_open, "could not set the sidebar"


def _open(page, info, present: bool, sidebar_open: bool | None = None):
    query = "&".join(q for q in (QUERY.get(info.url_path, ""), "present=1" if present else "") if q)
    page.goto(f"{page.base_url}/{info.url_path}" + (f"?{query}" if query else ""))
    page.locator('[data-testid="stMain"]').wait_for()
    idle(page, 180_000)
    if sidebar_open is not None:
        _set_sidebar(page, sidebar_open)
    _ready(page, info.url_path)


@pytest.fixture(scope="module")
def normal(browser, app_url):
    """Each page in normal mode at 1400x1000: how many chart texts, how big the metrics."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.base_url = app_url
    found = {}
    for info in PAGES:
        _open(page, info, present=False)
        found[info.url_path] = audit_page(page, min_px=0, min_contrast=0, min_cell_contrast=0)
    context.close()
    return found


@pytest.mark.parametrize("width, height, sidebar_open", CONFIGS, ids=lambda v: str(v))
def test_every_page_reads_from_the_back_row(browser, app_url, normal, width, height, sidebar_open):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.base_url = app_url
    problems = []
    try:
        for info in PAGES:
            _open(page, info, present=True, sidebar_open=sidebar_open)
            shot(page, f"present-{info.url_path or 'home'}-{width}-{'open' if sidebar_open else 'closed'}")
            found = audit_page(page)
            where = f"/{info.url_path} at {width}x{height}, sidebar {'open' if sidebar_open else 'closed'}"
            problems += [f"{where}: {p}" for p in found.problems]
            base = normal[info.url_path]
            if found.chart_text_count < base.chart_text_count:
                missing = Counter(t["text"] for t in base.texts) - Counter(t["text"] for t in found.texts)
                problems.append(f"{where}: {found.chart_text_count} chart texts, {base.chart_text_count} in normal "
                                f"mode; missing {sorted(missing.elements())[:12]}")
            if found.canvases:
                problems.append(
                    f"{where}: {found.canvases} st.dataframe canvas tables (use st.table in projection mode)"
                )
            if base.metrics and (not found.metrics or min(found.metrics) <= max(base.metrics)):
                problems.append(f"{where}: metrics {found.metrics} px not larger than in normal mode {base.metrics}")
    finally:
        context.close()
    assert not problems, "\n".join(problems[:60]) + (f"\n… and {len(problems) - 60} more" if len(problems) > 60 else "")
