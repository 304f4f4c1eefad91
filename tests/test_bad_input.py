"""Every input point refuses the bad-input corpus with a clear message, never a traceback,
and the session keeps working."""
import pytest
from streamlit.testing.v1 import AppTest

from analysis.images import decode_image
from dashboard.core.guard import unplain
from tests.corpus import image_corpus, unpickle_traps, weights_corpus, zip_corpus

IMAGES, ZIPS, WEIGHTS = image_corpus(), zip_corpus(), weights_corpus()


@pytest.mark.parametrize("name", list(IMAGES))
def test_decode_refuses_every_bad_image(name):
    with pytest.raises(ValueError) as e:
        decode_image(IMAGES[name])  # also what the camera input goes through
    assert len(str(e.value)) > 20 and "Traceback" not in str(e.value)


@pytest.mark.parametrize("name", list(IMAGES))
def test_convolution_upload_refuses_and_keeps_the_page(name):
    at = AppTest.from_file("../pages/convolution.py", default_timeout=30).run()
    at.file_uploader(key="conv_upload").set_value((name, IMAGES[name], "image/png")).run()
    assert not at.exception, at.exception
    assert f"Could not use “{name}”" in unplain(at.error[0].value)
    assert any('class="nl-figure"' in h.proto.body for h in at.get("html"))  # the bundled photo still shown


@pytest.mark.parametrize("name", list(IMAGES))
def test_predict_upload_refuses(name):
    at = AppTest.from_file("../pages/predict.py", default_timeout=120).run()
    from dashboard.core.training_jobs import REGISTRY

    for job in REGISTRY.jobs():
        job.wait(180)
    at.run()
    at.radio(key="predict_source").set_value("photo").run()
    at.file_uploader(key="predict_upload").set_value((name, IMAGES[name], "image/png")).run()
    assert not at.exception, at.exception
    assert f"Could not use “{name}”" in unplain(at.error[0].value)


@pytest.mark.parametrize("name", list(ZIPS))
def test_training_zip_upload_refuses(name):
    at = AppTest.from_file("../pages/train.py", default_timeout=60).run()
    at.selectbox(key="train_data").set_value("zip").run()
    at.file_uploader(key="train_zip").set_value((name, ZIPS[name], "application/zip")).run()
    assert not at.exception, at.exception
    assert f"Could not use “{name}”" in unplain(at.error[0].value)


@pytest.mark.parametrize("name", list(WEIGHTS) + ["trap.safetensors", "trap-torch.safetensors"])
def test_weights_upload_refuses_and_never_unpickles(name, tmp_path):
    # Traps write a marker file when unpickled by anything (pickle, torch.load, an own Unpickler).
    marker = tmp_path / "unpickled"
    data = WEIGHTS[name] if name in WEIGHTS else unpickle_traps(marker)[name]
    at = AppTest.from_file("../pages/train.py", default_timeout=60).run()
    at.file_uploader(key="weights_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert any(f"Could not use “{name}”" in unplain(e.value) for e in at.error)
    from dashboard.core import session_models

    assert not session_models.state(at.session_state).models
    assert not marker.exists(), "a user file was unpickled"


@pytest.mark.parametrize(
    "page,params",
    [
        (
            "../pages/convolution.py",
            {"kernel": "<script>alert(1)</script>", "size": "1e9", "pad": "'; DROP", "stride": "-1"},
        ),
        ("../pages/train.py", {"model": "__import__('os')", "epochs": "99999", "data": "../../etc/passwd"}),
        ("../pages/representations.py", {"perplexity": "nan", "n": "-5", "method": "umap"}),
    ],
)
def test_bad_url_parameters_fall_back_to_defaults_with_a_notice(page, params):
    at = AppTest.from_file(page, default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    notice = unplain(at.warning[0].value)
    assert "defaults are shown" in notice
    for name in params:
        assert f"{name}=" in notice


@pytest.mark.parametrize("text", ["", "1 2\n3 4", "exec('x')", "<b>1</b> 2 3", "1e400 0 0", "9" * 5000])
def test_kernel_grid_refuses_bad_text(text):
    at = AppTest.from_file("../pages/convolution.py", default_timeout=30).run()
    at.selectbox(key="conv_preset").set_value("Custom").run()
    at.text_area(key="conv_custom").set_value(text).run()
    assert not at.exception, at.exception
    assert at.error and at.error[0].value
