"""Real browser: open /trust and see each model's heatmaps; Predict's "Why?" hands its digit over."""
import pytest

from tests.helpers import idle, shot

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


def test_why_on_predict_opens_that_digit_on_trust(page):
    """Predict's "Why?" under an answer hands the digit over: Trust explains that very digit."""
    page.goto(f"{page.base_url}/predict")
    page.get_by_text("A test digit", exact=True).click(timeout=300_000)  # default models trained
    page.get_by_text("What each model says").wait_for(timeout=120_000)
    idle(page, timeout=120_000)
    caption = page.get_by_text("its true label is").first.inner_text()
    label = caption.rsplit(" ", 1)[-1]
    page.get_by_role("button", name="Why?").first.click()
    page.wait_for_url("**/trust**", timeout=60_000)
    page.get_by_text("Which ink made the answer").wait_for(timeout=120_000)
    idle(page, timeout=120_000)
    assert page.get_by_text("Predict: a test digit").count() >= 1  # where the digit came from
    assert page.get_by_text(f"its true label: {label}", exact=False).count() >= 1
    assert page.locator('[data-testid="stImage"] img').count() >= 10
    assert not page.locator('[data-testid="stException"]').count()
    shot(page, "trust-from-predict")
