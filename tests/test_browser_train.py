"""Real browser: train one epoch on /train, see the curves and the confusion matrix (on the validation
digits while the test score is hidden); reveal the test score: one look in the ledger beside the runs table."""
import re

import pytest

from tests.helpers import shot

pytestmark = pytest.mark.browser


def test_train_one_epoch_and_see_results(page):
    page.goto(f"{page.base_url}/train")
    page.get_by_role("button", name="Train").wait_for()
    page.get_by_text("Training settings").click()
    slider = page.get_by_role("slider", name="Epochs")
    slider.focus()
    slider.press("Home")  # 1 epoch
    page.wait_for_url(re.compile(r"[?&]epochs=1(&|$)"))  # the slider's rerun has landed: the address says 1 epoch
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Validation accuracy", exact=True).wait_for(timeout=90_000)
    page.get_by_text("Loss (lower is better)").first.wait_for()
    page.get_by_text("Accuracy (higher is better)").first.wait_for()
    page.locator(".js-plotly-plot .heatmaplayer").first.wait_for()  # the confusion matrix
    page.get_by_text("validation images labelled").wait_for()  # the test digits wait for a reveal
    shot(page, "train-results")
    model_box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first
    assert "· 1 ep ·" in model_box.locator("input").input_value()  # the short name (issue 31)


def test_reveal_a_single_runs_test_score_and_the_ledger_counts_it(page):
    page.goto(f"{page.base_url}/train?data=digits&model=logreg&epochs=1")
    page.get_by_role("button", name="Train").click(timeout=60_000)
    page.get_by_text("Validation accuracy", exact=True).wait_for(timeout=120_000)
    page.get_by_role("tab", name="Compare runs").click()
    page.get_by_text("The test set has been looked at 0 times").wait_for()
    assert page.get_by_role("cell", name="hidden").count() == 1  # the runs table's test accuracy
    page.get_by_role("button", name="Reveal its test score").click()
    page.get_by_text("The test set has been looked at 1 time").wait_for(timeout=30_000)
    assert page.get_by_role("cell", name="hidden").count() == 0
    page.get_by_text("The test set has been looked at 1 time").scroll_into_view_if_needed()
    shot(page, "train-runs-ledger")
    page.get_by_role("tab", name="Confusion matrix").click()
    page.get_by_text("test images labelled").wait_for()  # revealed: the confusion matrix on the test digits
