"""Settings survive page switches and hidden widgets until Start over; Start over detaches
from jobs (issue 10)."""
import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard.core.guard import unplain

APP = "../dashboard/app.py"


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"../pages/{page}").run()
    assert not at.exception, (page, at.exception)
    return at


def size_shown(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " → " in m.value and "pixels" in m.value)


def test_settings_and_upload_survive_a_tour_of_the_other_pages():
    at = go(app(), "convolution.py")
    at.selectbox(key="conv_preset").set_value("Sobel x").run()
    at.radio(key="conv_padding").set_value("same").run()
    at.file_uploader(key="conv_upload").set_value(("mine.png", png(70, 50), "image/png")).run()
    assert "70 × 50" in size_shown(at)
    go(at, "train.py")
    at.radio(key="train_kind").set_value("cnn").run()
    at.selectbox(key="train_data").set_value("digits").run()
    at.slider(key="train_epochs").set_value(3).run()
    for page in ("glossary.py", "home.py", "convolution.py"):
        go(at, page)
    assert at.selectbox(key="conv_preset").value == "Sobel x"
    assert at.radio(key="conv_padding").value == "same"
    assert at.radio(key="conv_source").value == "Your own picture"
    assert "70 × 50" in size_shown(at)  # the upload is still in use
    assert any("mine.png" in unplain(c.value) for c in at.caption)  # and shown by name
    go(at, "train.py")
    assert at.radio(key="train_kind").value == "cnn"
    assert at.selectbox(key="train_data").value == "digits"
    assert at.slider(key="train_epochs").value == 3


def test_mlp_settings_survive_a_visit_to_the_convnet():
    at = go(app(), "train.py")
    at.radio(key="train_kind").set_value("mlp").run()
    at.slider(key="mlp_layers").set_value(3).run()
    at.select_slider(key="mlp_units").set_value(64).run()
    at.radio(key="train_kind").set_value("cnn").run()
    at.slider(key="cnn_blocks").set_value(1).run()
    at.radio(key="train_kind").set_value("mlp").run()
    assert at.slider(key="mlp_layers").value == 3 and at.select_slider(key="mlp_units").value == 64
    at.radio(key="train_kind").set_value("cnn").run()
    assert at.slider(key="cnn_blocks").value == 1


def test_start_over_resets_the_settings_and_keeps_other_pages():
    at = go(app(), "convolution.py")
    at.selectbox(key="conv_preset").set_value("Sobel x").run()
    go(at, "train.py")
    at.radio(key="train_kind").set_value("cnn").run()
    at.button(key="start_over_train").click().run()
    assert at.radio(key="train_kind").value == "mlp"
    go(at, "convolution.py")
    assert at.selectbox(key="conv_preset").value == "Sobel x"


def test_start_over_detaches_from_the_training_job_and_cancels_it():
    from dashboard.core.training_jobs import REGISTRY
    from dashboard.training.state import training_state

    at = go(app(), "train.py")
    at.selectbox(key="train_data").set_value("mnist5k").run()
    at.radio(key="train_kind").set_value("cnn").run()
    at.slider(key="train_epochs").set_value(50).run()
    at.number_input(key="train_seed").set_value(12345).run()  # a run no other test shares
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    watched = training_state(at.session_state).job
    assert watched is not None
    job = REGISTRY.get(watched.key)
    assert job.watchers  # this session watches it
    at.button(key="start_over_train").click().run()
    assert not at.exception, at.exception
    assert training_state(at.session_state).job is None
    assert not job.watchers
    assert job.wait(60) and job.status == "cancelled"


def test_a_mistake_is_handed_over_to_predict():
    from tests.helpers import tiny, train_and_wait

    at = train_and_wait(tiny(go(app(), "train.py"), "logreg", epochs=1))
    at.number_input(key="train_mistake").set_value(2).run()
    at.button(key="train_to_predict").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Predict"
    assert any("a mistake on the Training page" in i.value for i in at.info)
    reads = [m.value for m in at.markdown if " reads " in m.value]
    assert len(reads) == 1 and "✘ the true label is" in reads[0]  # it was a mistake: still wrong
    go(at, "predict.py")  # AppTest reruns the page it was sent to last; a browser follows st.switch_page
    assert any("a mistake on the Training page" in i.value for i in at.info)  # kept until dismissed
    at.button(key="predict_forget_incoming").click().run()
    assert not any("a mistake on the Training page" in i.value for i in at.info)
    assert at.radio(key="predict_source") is not None


def test_start_over_on_training_leaves_the_other_pages_a_fallback():
    from dashboard.core import session_models
    from tests.helpers import tiny, train_and_wait

    at = train_and_wait(tiny(go(app(), "train.py"), "logreg", epochs=1))
    at = train_and_wait(tiny(at, "mlp", epochs=1))
    go(at, "predict.py")
    names = list(session_models.state(at.session_state).models)
    assert at.multiselect(key="predict_models").value == names
    at.multiselect(key="predict_models").set_value(names[:1]).run()
    go(at, "train.py")
    at.button(key="start_over_train").click().run()
    go(at, "representations.py")  # no model of this session left: the server's default (waited for)
    assert not at.exception
    go(at, "predict.py")
    assert not at.exception
    assert not at.multiselect  # no selection of gone models: the server's defaults (or waiting for them)
    go(at, "train.py")
    at = train_and_wait(tiny(at, "logreg", epochs=2))
    (new,) = session_models.state(at.session_state).models
    go(at, "predict.py")  # the kept choice names a model that is gone: it falls back, with a notice
    assert any("No longer in this session" in i.value and names[0] in i.value for i in at.info)
    assert at.multiselect(key="predict_models").value == [new]
    assert len([m for m in at.markdown if " reads " in m.value]) in (0, 1)  # no traceback, at most one answer
