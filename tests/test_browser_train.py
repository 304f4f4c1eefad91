"""Real browser: train one epoch on /train, see the curves and the confusion matrix."""
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
    page.get_by_text("test images labelled").wait_for()
    shot(page, "train-results")
    model_box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first
    assert "· 1 epoch ·" in model_box.locator("input").input_value()
