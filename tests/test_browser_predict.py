"""Real browser: upload a photo of a handwritten digit on /predict and see Pr(digit)."""
import numpy as np
import pytest
from PIL import Image

from analysis.datasets import load_dataset
from tests.helpers import draw_a_stroke, paper_photo, shot, upload

pytestmark = pytest.mark.browser


def test_upload_a_digit_photo_and_see_probabilities(page, tmp_path):
    ds = load_dataset("mnist5k")
    path = tmp_path / "three.png"
    Image.fromarray(paper_photo(ds.images[np.flatnonzero(ds.labels == 3)[5]])).save(path)
    page.goto(f"{page.base_url}/predict")
    page.get_by_text("Where the digit comes from").wait_for(timeout=120_000)  # default models trained
    page.get_by_text("Upload a photo", exact=True).click()
    upload(page, path)
    page.get_by_text("How the picture becomes the model's input").wait_for(timeout=60_000)
    page.get_by_text("Pr(class)").first.wait_for()  # (its chart's summary comes just before the chart)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=60_000)  # one chart per model: three
    assert page.get_by_text(" reads ").count() == 3
    shot(page, "predict-photo")


def test_drawing_canvas_reads_a_stroke(page):
    page.goto(f"{page.base_url}/predict")
    page.get_by_text("Where the digit comes from").wait_for(timeout=120_000)
    draw_a_stroke(page)
    page.get_by_text("What each model says").wait_for(timeout=30_000)
    page.get_by_text(" reads ").nth(2).wait_for(timeout=30_000)  # the three models' answers draw one after another
    assert page.get_by_text(" reads ").count() == 3
    shot(page, "predict-drawing")
