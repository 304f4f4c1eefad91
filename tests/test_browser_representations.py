"""Real browser: draw a lasso on a map on /representations and see the image grid."""
import pytest

from tests.test_browser_convolution import shot

pytestmark = pytest.mark.browser


def lasso(page, share: float = 0.35):
    """Draw a lasso (a box-shaped loop) around the middle `share` of the first map."""
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    area = plot.locator(".nsewdrag").first.bounding_box()
    cx, cy = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2
    w, h = area["width"] * share, area["height"] * share
    page.mouse.move(cx - w, cy - h)
    page.mouse.down()
    for x, y in [(cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h), (cx - w, cy - h + 2)]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def test_lasso_on_a_map_shows_the_selected_digits(page):
    page.goto(f"{page.base_url}/representations")
    page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=180_000)
    lasso(page)
    page.get_by_text("What is in your selection?").wait_for(timeout=30_000)
    page.get_by_text("digits selected").wait_for()
    page.get_by_text("What is in your selection?").scroll_into_view_if_needed()
    shot(page, "representations-lasso")
