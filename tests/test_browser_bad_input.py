"""Real browser: each page refuses a bad input with a clear message and keeps working."""
import pytest

from tests.corpus import image_corpus, zip_corpus
from tests.helpers import upload

pytestmark = pytest.mark.browser


def test_predict_refuses_a_truncated_jpeg(page, tmp_path):
    path = tmp_path / "truncated.jpg"
    path.write_bytes(image_corpus()["truncated.jpg"])
    page.goto(f"{page.base_url}/predict")
    page.get_by_text("Where the digit comes from").wait_for(timeout=300_000)  # after the default models
    page.get_by_text("Upload a photo", exact=True).click()
    upload(page, path)
    page.get_by_text("Could not use “truncated.jpg”").wait_for()
    page.get_by_text("A test digit", exact=True).click()  # the session still works
    page.get_by_text(" reads ").first.wait_for(timeout=30_000)


def test_training_refuses_a_zip_with_path_escapes(page, tmp_path):
    path = tmp_path / "escape.zip"
    path.write_bytes(zip_corpus()["escape.zip"])
    page.goto(f"{page.base_url}/train")
    page.get_by_role("combobox", name="Digits to learn from").click()
    page.get_by_role("option", name="Your own images (.zip)").click()
    page.get_by_text("Your images (.zip)").wait_for()
    upload(page, path, label="Your images (.zip)")
    page.get_by_text("Could not use “escape.zip”").wait_for()


def test_representations_ignores_bad_link_settings(page):
    page.goto(f"{page.base_url}/representations?perplexity=lots&method=umap")
    page.get_by_text("defaults are shown").wait_for(timeout=120_000)
    page.get_by_text("How well each map keeps the digits apart").wait_for(timeout=180_000)


@pytest.mark.parametrize("guess, title, lands", [("training?model=cnn", "Training", "/train?model=cnn"),
                                                  ("maps", "Representations", "/representations"),
                                                  ("tsne", "Representations", "/representations"),
                                                  ("kernels", "Convolution", "/convolution"),
                                                  ("predictions", "Predict", "/predict")])
def test_addresses_people_guess_reach_the_page(page, guess, title, lands):
    page.goto(f"{page.base_url}/{guess}")
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60_000)
    from urllib.parse import urlsplit

    path, _, query = lands.partition("?")
    assert urlsplit(page.url).path == path
    assert query in urlsplit(page.url).query  # the link's own settings came along
