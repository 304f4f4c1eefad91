"""Real browser: open /trust and see each model's heatmaps; Predict's "Why?" hands its digit over."""
import pytest

from tests.helpers import idle, shot

pytestmark = pytest.mark.browser


def test_trust_page_shows_the_heatmaps(page):
    page.goto(f"{page.base_url}/trust")
    page.get_by_text("Which ink made the answer").wait_for(timeout=300_000)  # default models trained
    idle(page, timeout=120_000)
    page.get_by_text("IG: why", exact=False).first.wait_for()
    pictures = page.locator('.nl-figure img')
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


def test_why_under_the_second_model_opens_trust_on_that_model_and_that_digit(page):
    """Predict's "Why?" under the second model's answer hands the digit and the model over: Trust
    explains that very digit with that model (and only it)."""
    page.goto(f"{page.base_url}/predict")
    page.get_by_text("A test digit", exact=True).click(timeout=300_000)  # default models trained
    page.get_by_text("What each model says").wait_for(timeout=120_000)
    idle(page, timeout=120_000)
    caption = page.get_by_text("its true label is").first.inner_text()
    label = caption.rsplit(" ", 1)[-1]
    answers = page.get_by_text(" reads ", exact=False)
    names = [answers.nth(i).inner_text().split(" reads ")[0].strip() for i in range(answers.count())]
    assert len(names) >= 2, names
    second = names[1]
    page.get_by_role("button", name="Why?").nth(1).click()
    page.wait_for_url("**/trust**", timeout=60_000)
    page.get_by_text("Which ink made the answer").wait_for(timeout=120_000)
    idle(page, timeout=120_000)
    assert page.get_by_text(f"Predict: a test digit, as read by {second}").count() >= 1  # where it came from
    assert page.get_by_text(f"its true label: {label}", exact=False).count() >= 1  # that digit
    chosen = page.locator('[data-testid="stMultiSelect"]').first.inner_text()
    assert second in chosen and not [n for n in names if n != second and n in chosen], chosen  # that model only
    page.get_by_text(f"{second}, Occlusion:", exact=False).first.wait_for(timeout=120_000)
    assert page.get_by_text(f"{second}, Occlusion:", exact=False).count() == 1  # its sanity verdict
    assert not [n for n in names if n != second and page.get_by_text(f"{n}, Occlusion:", exact=False).count()]
    assert page.locator('.nl-figure img').count() >= 4
    assert not page.locator('[data-testid="stException"]').count()
    shot(page, "trust-from-predict-second-model")
    page.get_by_text("The verdict.", exact=False).scroll_into_view_if_needed()
    shot(page, "trust-sanity-verdict")
