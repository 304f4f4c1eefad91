"""Real browser: set non-default choices, an upload and a selection on every page, tour the
other pages through the sidebar, come back: everything is still set (issue 10), and the photo's
download is still its full size (issue 13: the pages work on a 1,400 px copy)."""
import numpy as np
import pytest
from PIL import Image

from analysis.datasets import load_dataset
from tests.helpers import (
    canvas_shows_ink,
    choose,
    draw_a_stroke,
    drawing_canvas,
    idle,
    lasso,
    paper_photo,
    shot,
    upload,
    wait_until,
)
from tests.servers import photo

pytestmark = pytest.mark.browser


URLS = {"Convolution": "convolution", "Training": "train", "Representations": "representations",
        "Predict": "predict", "Glossary": "glossary"}


def visit(page, title):
    """Open a page through the sidebar's navigation, as a user would."""
    idle(page)
    links = page.locator('[data-testid="stSidebarNav"] a')
    link = links.filter(has_text="Home") if title == "Home" else links.and_(page.locator(f'a[href$="/{URLS[title]}"]'))
    link.first.click()
    heading = "NetLens: see how neural nets work" if title == "Home" else title
    page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
    idle(page, 180_000)


def selected_count(page) -> str:
    page.get_by_text("digits selected").first.wait_for(timeout=60_000)
    return page.get_by_text("digits selected").first.inner_text()


def test_every_page_keeps_its_settings_through_a_tour(page, tmp_path):
    ds = load_dataset("mnist5k")
    digit = tmp_path / "three.png"
    Image.fromarray(paper_photo(ds.images[np.flatnonzero(ds.labels == 3)[5]])).save(digit)

    page.goto(f"{page.base_url}/convolution")
    page.get_by_text("After: Box blur (3×3)").wait_for(timeout=60_000)
    upload(page, photo(tmp_path / "street.jpg", 2000, 1500))  # over 1,400 px: the pages work on a smaller copy
    page.get_by_text("Before: Your picture: street.jpg").wait_for(timeout=60_000)
    choose(page, "Kernel", "Sobel x")
    page.get_by_text("After: Sobel x").wait_for()

    visit(page, "Training")
    page.get_by_text("Convnet", exact=True).click()
    idle(page)
    assert page.get_by_role("radio", name="Convnet").is_checked()

    visit(page, "Predict")
    page.get_by_text("Where the digit comes from").wait_for(timeout=240_000)  # the default models are trained
    page.get_by_text("Upload a photo", exact=True).click()
    upload(page, digit)
    page.get_by_text("How the picture becomes the model's input").wait_for(timeout=60_000)

    visit(page, "Representations")
    page.locator(".st-key-rep_method").get_by_text("PCA", exact=True).click()  # the maps' control (its key)
    page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=180_000)
    idle(page)
    choose(page, "Select by true label", "3")
    page.get_by_text("What is in your selection?").wait_for(timeout=60_000)
    idle(page)
    only_threes = selected_count(page)
    lasso(page, 0.3)
    wait_until(lambda: selected_count(page) != only_threes, 60, "the lasso's rerun adding the digits drawn around",
               every=0.5)
    idle(page)
    count = selected_count(page)
    assert count != only_threes
    shot(page, "persistence-representations-before")

    for title in ("Glossary", "Home", "Convolution"):
        visit(page, title)
    page.get_by_text("After: Sobel x").wait_for(timeout=60_000)
    page.get_by_text("Before: Your picture: street.jpg").wait_for()
    page.get_by_text("In use: street.jpg").wait_for()
    with page.expect_download(timeout=90_000) as download:  # after the tour, the download is still full size
        page.get_by_role("button", name="Download the result").click()
    with Image.open(download.value.path()) as result:
        assert result.size == (1998, 1498)  # the 2000 × 1500 photo, Sobel x without padding

    visit(page, "Training")
    assert page.get_by_role("radio", name="Convnet").is_checked()

    visit(page, "Predict")
    assert page.get_by_role("radio", name="Upload a photo").is_checked()
    page.get_by_text("In use: three.png").wait_for()
    page.get_by_text("How the picture becomes the model's input").wait_for(timeout=60_000)

    visit(page, "Representations")
    assert page.get_by_role("radio", name="PCA").is_checked()
    page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=180_000)
    labels = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Select by true label")
    assert labels.get_by_text("3", exact=True).count() == 1  # the selection by label is still there
    assert selected_count(page) == count  # and the lasso selection too
    page.get_by_text("What is in your selection?").wait_for()
    shot(page, "persistence-representations-after")


def test_a_drawing_is_still_there_after_a_visit_elsewhere(page):
    page.goto(f"{page.base_url}/predict")
    page.get_by_text("Where the digit comes from").wait_for(timeout=240_000)
    draw_a_stroke(page)
    page.get_by_text("What each model says").wait_for(timeout=30_000)
    page.get_by_text(" reads ").nth(2).wait_for(timeout=30_000)  # the three models' answers draw one after another
    before = sorted(t.inner_text() for t in page.get_by_text(" reads ").all())
    visit(page, "Glossary")
    visit(page, "Predict")
    page.get_by_text("What each model says").wait_for(timeout=30_000)
    drawing_canvas(page)
    wait_until(lambda: canvas_shows_ink(page), 60, "the canvas showing the drawing again", every=0.2)
    idle(page)  # what the canvas, opened again, reported has been read
    assert sorted(t.inner_text() for t in page.get_by_text(" reads ").all()) == before
    shot(page, "persistence-drawing")
