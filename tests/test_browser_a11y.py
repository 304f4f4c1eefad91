"""No accessibility violation on any page (issue 36): axe-core (WCAG 2.0/2.1/2.2 A and AA, every frame,
no rule disabled, only Streamlit's own chrome left out: tests/axe_audit.py) on every page of the
navigation in normal and projection mode and on a 390x844 phone, and on the states pages open into
(benchmarks/a11y.py lists them: a trained model, the sweep, maps, Over training, Predict with a test
digit and a photo, each Trust tab, /admin). Fails on any violation; every picture has alt text; every chart
has its summary before it and its "Show as table" after it (issue 37)."""
from __future__ import annotations

import pytest

from tests.servers import A11Y_ADMIN_PASSWORD, Server, a11y_states, a11y_visit

pytestmark = pytest.mark.browser

STATES = a11y_states()


@pytest.fixture(scope="module")
def a11y_url(tmp_path_factory, browser):
    """A server of its own, with an admin password so /admin can be opened."""
    server = Server(tmp_path_factory.mktemp("a11y"), env={"NETLENS_ADMIN_PASSWORD": A11Y_ADMIN_PASSWORD},
                    start_timeout=90)
    try:
        yield server.base
    finally:
        server.stop()


def test_the_states_cover_every_page_in_three_views():
    names = [s[0] for s in STATES]
    assert len(names) == len(set(names)) and len(names) >= 20
    assert {"home", "home-present", "home-phone", "admin", "predict-photo", "trust-hold-up"} <= set(names)


@pytest.mark.parametrize("state", STATES, ids=[s[0] for s in STATES])
def test_axe_finds_no_violation(browser, a11y_url, state, tmp_path):
    name, address, prepare, size = state
    result, (n_images, n_described), (n_charts, n_said) = a11y_visit(browser, a11y_url, name, address, prepare, size,
                                                                     tmp_path)
    assert result.frames >= 1
    assert not result.violations, f"{name}: {result.violation_nodes} element(s)\n{result.describe()}"
    assert n_described == n_images, f"{name}: {n_images - n_described} picture(s) without alt text"
    assert n_said == n_charts, f"{name}: {n_charts - n_said} chart(s) without a summary and a table"
