"""Real browser: a 2×2 sweep on /train (settings from the address bar), then the test score revealed (one look)."""
import pytest

from tests.helpers import shot

pytestmark = pytest.mark.browser

LINK = "train?data=digits&model=logreg&epochs=1&vary=lr&values=0.001,0.01&vary2=batch_size&values2=32,64&seeds=1"


def test_a_two_by_two_sweep_then_reveal_the_test_score(page):
    page.goto(f"{page.base_url}/{LINK}")
    page.get_by_text("Try several settings (a small sweep)").click()
    start = page.get_by_role("button", name="Run the sweep (4 runs)")
    start.wait_for(timeout=60_000)
    start.click()
    page.get_by_text("Best by validation accuracy").wait_for(timeout=120_000)
    page.locator(".js-plotly-plot .heatmaplayer").first.wait_for(timeout=300_000)  # every run finished
    reveal = page.get_by_role("button", name="Reveal the test score")
    reveal.click()
    page.get_by_text("Test accuracy (final check)").wait_for(timeout=30_000)
    page.get_by_text("one more validation set").wait_for()
    assert page.get_by_role("button", name="Reveal the test score").count() == 0  # this sweep: shown now
    page.get_by_text("The test set has been looked at 1 time").first.wait_for(state="attached")  # in the ledger
    shot(page, "train-sweep-revealed")
