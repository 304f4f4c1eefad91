"""Real browser: open /trust and see each model's heatmaps (the lead adds Predict's "Why?" hop)."""
import pytest

from tests.test_browser_convolution import idle, shot

pytestmark = pytest.mark.browser


def test_trust_page_shows_the_heatmaps(page):
    page.goto(f"{page.base_url}/trust")
    page.get_by_text("Which ink made the answer").wait_for(timeout=300_000)  # default models trained
    idle(page, timeout=120_000)
    page.get_by_text("IG: why", exact=False).first.wait_for()
    pictures = page.locator('[data-testid="stImage"] img')
    assert pictures.count() >= 10  # the digit, and for each of the three models: it, occlusion, IG
    assert all(pictures.nth(i).evaluate("img => img.naturalWidth") > 0 for i in range(10))  # really drawn
    assert page.get_by_text("occlusion: why", exact=False).count() == 3
    assert page.get_by_text("black baseline cannot show").count() == 1
    page.get_by_role("tab", name="How sure").click()
    page.get_by_text("Stated confidence against actual accuracy").wait_for()
    page.get_by_role("tab", name="Does it hold up").click()
    page.get_by_text("Where two models disagree").wait_for()
    assert not page.locator('[data-testid="stException"]').count()
    shot(page, "trust-default")
