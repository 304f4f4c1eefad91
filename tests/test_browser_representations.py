"""Real browser: draw a lasso on a map on /representations and see the image grid."""
import warnings

import pytest

from tests.helpers import lasso, plot_selection, shot

pytestmark = pytest.mark.browser


def test_lasso_on_a_map_shows_the_selected_digits(page):
    page.goto(f"{page.base_url}/representations")
    page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=180_000)
    for loop in range(3):  # a loop that selects nothing is drawn again, as a person would (and said in a warning)
        lasso(page)
        try:
            page.get_by_text("What is in your selection?").wait_for(timeout=45_000)
            break
        except Exception:
            if loop == 2:
                raise
            warnings.warn(f"lasso {loop + 1} on the map selected nothing within 45 s ({plot_selection(page)}); "
                          "drawn again", stacklevel=1)
    page.get_by_text("digits selected").wait_for()
    page.get_by_text("What is in your selection?").scroll_into_view_if_needed()
    shot(page, "representations-lasso")
