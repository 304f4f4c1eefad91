"""Real browser: a reload, or an address typed into the same browser, brings the work back (issue 33):
a trained model, an uploaded photo and settings on two pages. Another browser context (another
student) finds none of it; the work id is an HTTP-only cookie, in no URL, and it expires with the
sessions' TTL and on Start over."""
from __future__ import annotations

import urllib.request

import pytest

from tests.helpers import choose, idle, shot, upload, wait_until
from tests.servers import photo

pytestmark = pytest.mark.browser

COOKIE = "netlens_work"
NOTICE = "Your models and settings are back."


def work_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def epochs(page) -> str:
    slider = page.get_by_role("slider", name="Epochs")
    if not slider.is_visible():
        page.get_by_text("Training settings").click()
    slider.wait_for()
    box = page.locator('[data-testid="stSlider"]').filter(has=slider)
    return box.locator('[data-testid="stSliderThumbValue"]').inner_text()


def train_one_epoch(page):
    page.goto(f"{page.base_url}/train")
    page.get_by_role("button", name="Train").wait_for()
    page.get_by_text("Training settings").click()
    slider = page.get_by_role("slider", name="Epochs")
    slider.focus()
    slider.press("Home")  # 1 epoch: a setting on the Training page
    page.wait_for_url(lambda url: "epochs=1" in url)
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Validation accuracy", exact=True).wait_for(timeout=120_000)
    idle(page)


def model_box(page):
    return page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first


def test_a_reload_brings_models_uploads_and_settings_back_in_this_browser_only(page, browser, tmp_path):
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    train_one_epoch(page)
    trained = model_box(page).locator("input").input_value()
    assert "· 1 ep ·" in trained  # the short name (issue 31): 1 epoch

    page.locator('[data-testid="stSidebarNav"] a[href$="/convolution"]').first.click()  # same session
    page.get_by_text("After: Box blur (3×3)").wait_for(timeout=60_000)
    upload(page, photo(tmp_path / "street.jpg", 800, 600))
    page.get_by_text("Before: Your picture: street.jpg").wait_for(timeout=60_000)
    choose(page, "Kernel", "Sobel x")  # a setting on the Convolution page
    page.get_by_text("After: Sobel x").wait_for()
    idle(page)
    assert not page.get_by_text(NOTICE).is_visible()  # nothing was restored so far

    page.reload()  # the reload: a new session in the same browser
    page.get_by_text(NOTICE).wait_for(timeout=60_000)
    page.get_by_text("After: Sobel x").wait_for(timeout=60_000)
    page.get_by_text("In use: street.jpg").wait_for()
    page.get_by_text("Before: Your picture: street.jpg").wait_for()
    idle(page)
    shot(page, "reload-restored-convolution")

    page.goto(f"{page.base_url}/train")  # an address typed into the address bar: no settings in it
    page.get_by_text(NOTICE).wait_for(timeout=60_000)
    model_box(page).wait_for(timeout=60_000)
    assert model_box(page).locator("input").input_value() == trained  # the trained model is back
    page.get_by_text("Validation accuracy", exact=True).wait_for()
    assert epochs(page) == "1"  # and Training's setting
    page.wait_for_url(lambda url: "epochs=1" in url)  # which the page's shareable address now says too
    shot(page, "reload-restored-train")

    cookie = work_cookie(page.context)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert len(cookie["value"]) >= 40  # 256 random bits
    assert urls and not [u for u in urls if cookie["value"] in u]  # the id is in no address the page used
    assert cookie["value"] not in page.url
    assert page.evaluate("document.cookie").find(cookie["value"]) == -1  # scripts cannot read it

    other = browser.new_context(viewport={"width": 1400, "height": 1000})  # another student
    try:
        them = other.new_page()
        them.set_default_timeout(30_000)
        them.goto(page.url)  # even the same address
        them.get_by_role("button", name="Train").wait_for(timeout=60_000)
        idle(them)
        assert not them.get_by_text(NOTICE).is_visible()
        assert not them.get_by_text("Validation accuracy", exact=True).is_visible()  # no model of mine
        them.goto(f"{page.base_url}/convolution")
        them.get_by_text("After: Box blur (3×3)").wait_for(timeout=60_000)
        idle(them)
        assert not them.get_by_text("street.jpg").count()
        assert work_cookie(other)["value"] != cookie["value"]
    finally:
        other.close()


def test_start_over_retires_the_id(page):
    page.goto(f"{page.base_url}/convolution")
    page.get_by_text("After: Box blur (3×3)").wait_for(timeout=60_000)
    choose(page, "Kernel", "Sobel x")
    page.get_by_text("After: Sobel x").wait_for()
    idle(page)
    before = work_cookie(page.context)["value"]
    page.get_by_role("button", name="Start over on this page").click()
    page.get_by_text("After: Box blur (3×3)").wait_for()
    idle(page)
    page.reload()
    page.get_by_text("After: Box blur (3×3)").wait_for(timeout=60_000)  # what Start over reset stays reset
    idle(page)
    after = work_cookie(page.context)["value"]
    assert after != before  # the old id is gone


@pytest.fixture
def short_ttl_server(tmp_path):
    from tests.servers import Server

    server = Server(tmp_path, env={"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "2"}, start_timeout=90)
    try:
        yield server.base
    finally:
        server.stop()


def renewed(base: str, value: str) -> bool:
    """A page load with this id gets a new one: the server no longer knows it."""
    req = urllib.request.Request(f"{base}/", headers={"Cookie": f"{COOKIE}={value}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return any(h.startswith(f"{COOKIE}=") for h in r.headers.get_all("set-cookie") or [])


def test_the_id_expires_with_the_sessions_ttl(browser, short_ttl_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{short_ttl_server}/convolution")
        page.get_by_text("After: Box blur (3×3)").wait_for(timeout=90_000)
        choose(page, "Kernel", "Sobel x")
        page.get_by_text("After: Sobel x").wait_for()
        idle(page)
        value = work_cookie(context)["value"]
        assert not renewed(short_ttl_server, value)  # known while its session is open
        page.close()  # the tab closes: its session is kept 2 s, then shut down and the id forgotten
        wait_until(lambda: renewed(short_ttl_server, value), 120, "the server to forget the id", every=1.0)
        page = context.new_page()
        page.goto(f"{short_ttl_server}/convolution")
        page.get_by_text("After: Box blur (3×3)").wait_for(timeout=60_000)  # nothing came back
        idle(page)
        assert not page.get_by_text(NOTICE).is_visible()
        assert work_cookie(context)["value"] != value
    finally:
        context.close()
