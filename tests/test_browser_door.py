"""Real browser (issue 29): a shared link survives the class password. Chromium opens
/train?model=cnn&epochs=5 (the hostile case in benchmarks/hostile_door.py) and
/convolution?kernel=Sobel+x&pad=same on a server with NETLENS_PASSWORD, types the password, and must be
on that page with those settings (it was the browser that rewrote the address to Home before)."""
from __future__ import annotations

import pytest

from tests.conftest import CHROMIUM, _browser_missing
from tests.helpers import in_own_thread
from tests.servers import deep_link_through_password, password_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory):
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    with password_server(tmp_path_factory.mktemp("locked")) as served:
        yield served


def test_training_link_survives_the_password(locked_server):
    server, password = locked_server
    name, held, details = in_own_thread(deep_link_through_password, server.base, password, chromium=CHROMIUM)
    assert held, details


def test_convolution_link_survives_the_password(locked_server, browser):
    server, password = locked_server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # the session's browser, a new student
    try:
        page = context.new_page()
        page.goto(f"{server.base}/convolution?kernel=Sobel+x&pad=same")
        box = page.locator('input[aria-label="Class password"]')
        box.wait_for(timeout=60_000)
        assert not page.get_by_text("The kernel").count()  # nothing of the page before the password
        box.fill("a typo")
        box.press("Enter")
        page.get_by_text("That is not the class password").wait_for(timeout=30_000)
        box.fill(password)
        box.press("Enter")
        page.get_by_text("Measures how fast brightness changes from left to right").wait_for(timeout=90_000)
        page.wait_for_function("() => location.search.includes('pad=same')", timeout=30_000)
        assert page.url.split("?")[0].endswith("/convolution"), page.url
        assert "kernel=Sobel+x" in page.url or "kernel=Sobel%20x" in page.url, page.url
    finally:
        context.close()
