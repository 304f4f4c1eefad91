"""AppTest smoke tests of the Convolution page: defaults, every preset, uploads good and bad."""
import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from analysis.kernels import PRESETS
from dashboard.core.guard import unplain

PAGE = "../pages/convolution.py"  # relative to this file


def png_bytes(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def test_renders_with_defaults_and_no_upload():
    at = run_page()
    assert at.title[0].value == "Convolution"
    assert not at.error
    assert "Box blur" in at.markdown[1].value or any("Box blur" in m.value for m in at.markdown)
    assert any("640 × 427 → 638 × 425" in m.value for m in at.markdown)  # valid 3×3 shrinks by 2


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_works(preset):
    at = run_page()
    at.selectbox(key="conv_preset").set_value(preset).run()
    assert not at.exception and not at.error
    assert any(m.value.startswith(f"**{preset}.**") for m in at.markdown)


def test_padding_and_stride_change_the_size_message():
    at = run_page()
    at.radio(key="conv_padding").set_value("same")
    at.select_slider(key="conv_stride").set_value(2).run()
    assert any("640 × 427 → 320 × 214" in m.value for m in at.markdown)


def test_custom_kernel_parses_and_refuses_code():
    at = run_page()
    at.selectbox(key="conv_preset").set_value("Custom").run()
    at.text_area(key="conv_custom").set_value("1 2 1\n2 4 2\n1 2 1").run()
    at.checkbox(key="conv_normalise").check().run()
    assert not at.error and not at.exception
    at.text_area(key="conv_custom").set_value("__import__('os').system('echo hi')").run()
    assert not at.exception
    assert "not a number" in at.error[0].value


def test_upload_good_then_bad_keeps_the_good_one():
    at = run_page()
    rng = np.random.default_rng(0)
    at.file_uploader(key="conv_upload").set_value(
        ("mine.png", png_bytes((rng.random((50, 70, 3)) * 255).astype(np.uint8)), "image/png")
    ).run()
    assert not at.exception and not at.error
    assert at.radio(key="conv_source").value == "Your own picture"
    assert any("70 × 50 → 68 × 48" in m.value for m in at.markdown)
    at.file_uploader(key="conv_upload").set_value(("notes.png", b"this is text, not a picture", "image/png")).run()
    assert not at.exception
    assert "notes.png" in unplain(at.error[0].value) and "previous picture" in at.error[0].value
    assert any("70 × 50 → 68 × 48" in m.value for m in at.markdown)  # still the good one


def test_image_smaller_than_kernel_without_padding_explains():
    at = run_page()
    at.file_uploader(key="conv_upload").set_value(
        ("tiny.png", png_bytes(np.zeros((2, 2, 3), np.uint8)), "image/png")
    ).run()
    assert not at.exception
    assert "smaller than the 3×3 kernel" in at.error[0].value


def test_step_through_panel_slides_the_window():
    at = run_page()
    at.selectbox(key="conv_preset").set_value("Horizontal edge").run()
    first = [m.value for m in at.markdown if m.value.startswith("Sum of the 9 products")][0]
    assert first.endswith("= **-27**")  # slide-grid rows 1–3 are 0, 0, 9: −1·(9+9+9)
    at.button(key="step_next").click().run()
    assert any("row 1, column 2" in m.value for m in at.markdown)
    for _ in range(3):
        at.button(key="step_next").click().run()
    # window rows 2–4 are 0, 9, 0: 2·(9+9+9) = 54 at row 2, column 1
    assert any("row 2, column 1" in m.value for m in at.markdown)
    assert [m.value for m in at.markdown if m.value.startswith("Sum of")][0].endswith("= **54**")
    at.radio(key="step_source").set_value("crop").run()
    assert not at.exception


def test_step_through_explains_big_kernels_instead():
    at = run_page()
    at.select_slider(key="conv_size").set_value(9).run()
    assert not at.exception
    assert any("at most 7×7" in i.value for i in at.info)


def test_link_settings_are_adopted_and_bad_ones_fall_back_with_a_notice():
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.query_params.update({"kernel": "Gaussian blur", "size": "7", "pad": "same", "stride": "9"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="conv_preset").value == "Gaussian blur"
    assert at.select_slider(key="conv_size").value == 7
    assert at.radio(key="conv_padding").value == "same"
    assert at.select_slider(key="conv_stride").value == 1  # 9 is not allowed: default
    assert "stride='9'" in unplain(at.warning[0].value)
    assert list(at.query_params["stride"]) == ["1"] and list(at.query_params["size"]) == ["7"]  # the URL shows the view
