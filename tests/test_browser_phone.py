"""Phone width (390×844): nothing scrolls sideways; Predict puts its answer close under the input."""
import numpy as np
import pytest
from PIL import Image

from analysis.datasets import load_dataset
from tests.helpers import idle, paper_photo, shot, upload

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
_SIDEWAYS = """() => [...document.querySelectorAll('[data-testid="stMain"], [data-testid="stMainBlockContainer"]')]
    .some(el => el.scrollWidth > el.clientWidth + 1)"""


@pytest.fixture
def phone(browser, app_url):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.base_url = app_url
    yield pg
    context.close()


def test_convolution_fits_a_phone(phone):
    phone.goto(f"{phone.base_url}/convolution")
    phone.get_by_text("Sum of the").wait_for(timeout=60_000)
    idle(phone)
    assert not phone.evaluate(_SIDEWAYS), "the Convolution page scrolls sideways on a phone"
    grids = phone.locator('[data-testid="stPlotlyChart"]').last  # window, output, kernel, products: one figure
    grids.scroll_into_view_if_needed()
    box = grids.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1
    titles = grids.locator(".annotation-text, .gtitle").evaluate_all("els => els.map(e => e.textContent)")
    assert any("window" in t for t in titles) and any("Output" in t for t in titles)
    shot(phone, "phone-convolution")


def test_predict_answer_is_close_under_the_photo(phone, tmp_path):
    ds = load_dataset("mnist5k")
    path = tmp_path / "seven.png"
    Image.fromarray(paper_photo(ds.images[np.flatnonzero(ds.labels == 7)[3]])).save(path)
    phone.goto(f"{phone.base_url}/predict")
    phone.get_by_text("Where the digit comes from").wait_for(timeout=180_000)
    phone.get_by_text("Upload a photo", exact=True).click()
    upload(phone, path)
    phone.get_by_text("What each model says").wait_for(timeout=60_000)
    idle(phone)
    phone.locator(".js-plotly-plot .main-svg").first.wait_for()
    gap = phone.evaluate("""() => {
        const input = document.querySelector('[data-testid="stFileUploader"]').getBoundingClientRect();
        const chart = document.querySelector('[data-testid="stPlotlyChart"]').getBoundingClientRect();
        return chart.top - input.bottom; }""")
    assert 0 < gap <= PHONE["height"], f"the first Pr(digit) chart starts {gap:.0f} px below the photo input"
    assert not phone.evaluate(_SIDEWAYS), "the Predict page scrolls sideways on a phone"
    shot(phone, "phone-predict")
