"""Real browser: draw a lasso on a map on /representations and see the image grid."""
import pytest

from tests.helpers import lasso, shot

pytestmark = pytest.mark.browser


def test_lasso_on_a_map_shows_the_selected_digits(page):
    page.goto(f"{page.base_url}/representations")
    page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=180_000)
    lasso(page)
    page.get_by_text("What is in your selection?").wait_for(timeout=60_000)
    page.get_by_text("digits selected").wait_for()
    page.get_by_text("What is in your selection?").scroll_into_view_if_needed()
    shot(page, "representations-lasso")
