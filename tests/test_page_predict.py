"""AppTest of the Predict page: default models, an uploaded photo, refusals."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from analysis.datasets import load_dataset, split_dataset
from dashboard.core.guard import unplain
from dashboard.core.session_models import KEY as MODELS_KEY
from dashboard.core.session_models import state as models_state
from dashboard.core.training_jobs import REGISTRY
from tests.helpers import paper_photo, png

PAGE = "../pages/predict.py"


def ready_page() -> AppTest:
    """The page once the server's default models exist (trained on first request)."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    for job in REGISTRY.jobs():
        job.wait(180)
    at.run()
    assert not at.exception, at.exception
    return at


def test_without_a_trained_model_uses_the_servers_defaults():
    at = ready_page()
    assert any("default models" in c.value for c in at.caption)
    at.radio(key="predict_source").set_value("test").run()
    assert not at.exception
    reads = [unplain(m.value) for m in at.markdown if " reads " in m.value]
    assert len(reads) == 3  # logistic regression, MLP, convnet side by side


def test_uploaded_photo_is_preprocessed_and_read():
    ds = load_dataset("mnist5k")
    test = split_dataset(ds, 0).test
    i = test[np.flatnonzero(ds.labels[test] == 7)[0]]
    at = ready_page()
    at.radio(key="predict_source").set_value("photo").run()
    at.file_uploader(key="predict_upload").set_value(("seven.png", png(paper_photo(ds.images[i])), "image/png")).run()
    assert not at.exception, at.exception
    assert "How the picture becomes the model's input" in [h.value for h in at.subheader]
    reads = [unplain(m.value) for m in at.markdown if " reads " in m.value]
    assert len(reads) == 3
    assert sum("reads **7**" in r for r in reads) >= 2


@pytest.mark.parametrize("data,words", [(png(np.full((200, 200), 255, np.uint8)), "no ink"),
                                        (b"not an image at all", "Could not use")])
def test_blank_and_broken_uploads_get_a_clear_message(data, words):
    at = ready_page()
    at.radio(key="predict_source").set_value("photo").run()
    at.file_uploader(key="predict_upload").set_value(("x.png", data, "image/png")).run()
    assert not at.exception, at.exception
    messages = [w.value for w in at.warning] + [e.value for e in at.error]
    assert any(words in m for m in messages), messages
    assert not [m.value for m in at.markdown if " reads " in m.value]


def test_models_trained_in_this_session_are_used():
    from tests.helpers import tiny, train_and_wait

    at = train_and_wait(tiny(AppTest.from_file("../pages/train.py", default_timeout=60).run(), "logreg", epochs=1))
    predict = AppTest.from_file(PAGE, default_timeout=60)
    predict.session_state[MODELS_KEY] = models_state(at.session_state)  # the session's models
    predict.run()
    assert not predict.exception, predict.exception
    assert predict.multiselect(key="predict_models").value == list(models_state(at.session_state).models)
    predict.radio(key="predict_source").set_value("test").run()
    reads = [unplain(m.value) for m in predict.markdown if " reads " in m.value]
    assert len(reads) == 1 and "LogReg · lr 0.001 · 1 ep · digits · s0" in reads[0]  # the short name (issue 31)
