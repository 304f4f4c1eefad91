"""Hostile input (issue 25): one gate for every untrusted byte, and no traceback ever.

Fast: the gate's checks (canvas, zips, weights, shapes), the text escaping, the page error
wrapper (its message and its logged id), and the pages with degenerate shapes (AppTest). One
real-server test sends the crafted canvas value the way the component does, through the project's
websocket client, and samples the server's memory meanwhile.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import re
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from analysis import gate
from analysis.compute import untrusted_weights
from analysis.train import weights
from dashboard.core.guard import plain, unplain
from tests.corpus import crafted_weights, encode, webp_zip
from tests.helpers import run_in_own_loop


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def canvas_png(side: int = 280, mode: str = "RGBA") -> bytes:
    img = Image.new(mode, (side, side))
    if mode == "RGBA":
        img.paste((255, 255, 255, 255), (100, 60, 180, 220))  # a white bar: a drawn "1"
    return encode(img, "PNG")


def bomb_png() -> bytes:
    """17.5 KB: a 1-bit PNG of 12000×12000 (what issue 25 sent as the canvas's picture)."""
    return encode(Image.new("1", (12_000, 12_000)), "PNG")


# ------------------------------------------------------------------------ the canvas

def test_canvas_takes_its_own_png():
    rgba = gate.canvas_picture(data_url(canvas_png()), 280, 280)
    assert rgba.shape == (280, 280, 4) and rgba[100, 120, 0] == 255 and rgba[0, 0, 0] == 0


@pytest.mark.parametrize("value", [
    pytest.param(lambda: data_url(bomb_png()), id="12000x12000-1bit-png"),
    pytest.param(lambda: data_url(canvas_png(560)), id="560x560-png"),
    pytest.param(lambda: data_url(canvas_png(mode="L")), id="gray-png"),
    pytest.param(lambda: "data:image/jpeg;base64," + base64.b64encode(encode(np.zeros((280, 280, 3), np.uint8),
                                                                             "JPEG")).decode(), id="jpeg"),
    pytest.param(lambda: "data:image/png;base64," + base64.b64encode(encode(np.zeros((280, 280, 3), np.uint8),
                                                                            "GIF")).decode(), id="gif-as-png"),
    pytest.param(lambda: "data:image/png;base64,!!!not base64!!!", id="not-base64"),
    pytest.param(lambda: "data:image/png;base64," + "A" * (gate.CANVAS_MAX_URL + 4), id="too-long"),
    pytest.param(lambda: {"drawing": 1}, id="not-text"),
])
def test_canvas_refuses_anything_else_before_decoding(value, monkeypatch):
    opened = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or pytest.fail("Pillow opened it"))
    with pytest.raises(ValueError, match="drawing could not be read"):
        gate.canvas_picture(value(), 280, 280)
    assert not opened


def test_predict_page_refuses_a_crafted_canvas_and_keeps_nothing():
    """The page's path: untrusted.canvas_picture on the component's result; nothing kept."""
    from dashboard.core import untrusted
    from dashboard.predict.state import PredictState

    class Result:  # what streamlit_drawable_canvas.CanvasResult holds (its slots)
        _image_data_url = data_url(bomb_png())
        json_data = {"objects": [{"type": "path"}]}

    with pytest.raises(ValueError, match="drawing could not be read"):
        untrusted.canvas_picture(Result(), 280, 280)
    Result._image_data_url = None
    assert untrusted.canvas_picture(Result(), 280, 280) is None  # not reported yet
    assert PredictState().drawing is None


# ------------------------------------------------------------------------ zips

def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_entry_count_read_from_the_end_record_before_the_directory(monkeypatch):
    data = _zip({f"a/{i}.txt": b"" for i in range(40)})
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("the directory was parsed"))
    assert gate.zip_entry_count(data) == 40
    with pytest.raises(ValueError, match="40 entries, the limit is 10"):
        gate.zip_entry_count(data, max_entries=10)
    # an end record that lies (says 1 entry): the directory's own signatures count
    at = data.rfind(b"PK\x05\x06")
    liar = data[:at + 8] + struct.pack("<HH", 1, 1) + data[at + 12:]
    with pytest.raises(ValueError, match="40 entries"):
        gate.zip_entry_count(liar, max_entries=10)
    with pytest.raises(ValueError, match="not a zip"):
        gate.zip_entry_count(b"PK\x03\x04 and then nothing")


def test_zip_of_big_webp_entries_is_refused_from_headers_in_the_worker():
    """Issue 25's zip (lossless WebP entries each under the old 40 MP cap) is refused by the per-entry
    pixel cap before any entry is decoded, in the zip worker process."""
    from dashboard.core import untrusted

    data = webp_zip(20, 2100)
    assert len(data) < 20_000
    with pytest.raises(ValueError, match=r"4,410,000 pixels; images in a zip may have at most 4,000,000"):
        untrusted.decode_zip(data, "webp")
    pids = untrusted.zip_executor().pids()
    assert pids, "the zip was decoded in a worker process"
    for pid in pids:  # ... which never loads torch (~450 MB): the zip task's module imports none of it
        with open(f"/proc/{pid}/maps") as maps:
            assert not [line for line in maps if "libtorch" in line], f"torch is loaded in the zip worker {pid}"


def test_zip_over_the_time_limit_is_stopped(monkeypatch):
    from dashboard.core import untrusted

    ramp = encode(np.tile(np.arange(2000, dtype=np.uint16) % 256, (2000, 1)).astype(np.uint8))  # 4 MP, ~10 KB
    slow = _zip({f"{'ab'[i % 2]}/{i}.png": ramp for i in range(24)})  # 96 MP to decode: longer than no time at all
    monkeypatch.setattr(untrusted, "ZIP_TIME_LIMIT_S", 0.0)
    with pytest.raises(ValueError, match="took longer than 0 s, so it was stopped"):
        untrusted.decode_zip(slow, "slow")
    monkeypatch.setattr(untrusted, "ZIP_TIME_LIMIT_S", 30.0)
    digits = {f"{'ab'[i % 2]}/{i}.png": encode((np.random.default_rng(i).random((28, 28)) * 255).astype(np.uint8))
              for i in range(300)}
    ds = untrusted.decode_zip(_zip(digits), "digits")  # the worker is fresh or reused: it works again
    assert ds.images.shape == (300, 28, 28) and ds.class_names == ("a", "b")


def test_zip_total_pixel_cap():
    from analysis import datasets

    tile = encode(np.zeros((500, 500), np.uint8))
    with pytest.raises(ValueError, match="pixels in all, the limit is 1,000,000"):
        datasets.load_image_zip(_zip({f"{'ab'[i % 2]}/{i}.png": tile for i in range(6)}), max_total_pixels=1_000_000)


# ------------------------------------------------------------------------ weights

@pytest.mark.parametrize("kw, match", [
    ({"image_shape": [30_000, 30_000]}, r"image size \(30000, 30000\) is outside"),
    ({"image_shape": [10_000, 10_000]}, r"image size \(10000, 10000\) is outside"),
    ({"image_shape": [28, 28, 28]}, r"image size \(28, 28, 28\)"),
    ({"n_classes": 5000}, r"5,000 classes"),
    ({}, r"do not match the model"),  # the metadata's model, no tensors in the header
])
def test_weights_bounds_checked_before_any_model_is_built(kw, match, monkeypatch):

    monkeypatch.setattr(weights, "build_model", lambda *a, **k: pytest.fail("a model was built"))
    with pytest.raises(ValueError, match=match):
        untrusted_weights.open_weights(crafted_weights(**kw))


@pytest.mark.parametrize("error", [RuntimeError("can't allocate memory: you tried to allocate 36 GB"),
                                   MemoryError(), OSError("disk")])
def test_every_error_on_the_weights_path_is_the_plain_refusal(error, monkeypatch):
    from analysis.models import ModelConfig, build_model
    from analysis.train import TrainConfig, save_weights
    from analysis.train.loop import History, TrainedModel

    trained = TrainedModel(model=build_model(ModelConfig(kind="logreg")), model_config=ModelConfig(kind="logreg"),
                           train_config=TrainConfig(), dataset_name="mnist5k", image_shape=(28, 28),
                           class_names=tuple("0123456789"), history=History(rows=[], stopped=False), val_accuracy=0.9,
                           test_accuracy=0.9, seconds=1.0, device="cpu", parameters=7850, split=None)
    data = save_weights(trained)
    assert untrusted_weights.open_weights(data)[0].parameters == 7850  # a file saved by the app still loads

    def boom(*a, **k):
        raise error

    monkeypatch.setattr(weights, "build_model", boom)
    with pytest.raises(ValueError, match=r"could not be loaded\. Upload a \.safetensors file") as e:
        untrusted_weights.open_weights(data)
    assert "allocate" not in str(e.value) and e.value.__cause__ is None


# ------------------------------------------------------------------------ shapes

@pytest.mark.parametrize("w, h, ok", [(1, 1, True), (40, 1, True), (1, 40, True), (50, 1, True),
                                      (51, 1, False), (20_000, 1, False), (1, 20_000, False)])
def test_picture_shapes(w, h, ok):
    from analysis.images import decode_image

    data = encode(np.full((h, w), 128, np.uint8))
    if ok:
        assert decode_image(data).size == (w, h)
    else:
        with pytest.raises(ValueError, match=f"thin strip \\({w}×{h} pixels\\)"):
            decode_image(data)


@pytest.mark.parametrize("page, timeout", [("../pages/convolution.py", 60), ("../pages/predict.py", 120),
                                           ("../pages/trust.py", 180)])
@pytest.mark.parametrize("w, h", [(20_000, 1), (1, 20_000), (1, 1), (40, 1), (1, 40)])
def test_degenerate_shapes_on_every_page_taking_a_picture(page, timeout, w, h):
    at = AppTest.from_file(page, default_timeout=timeout).run()
    if not page.endswith("convolution.py"):  # Predict and Trust start from the server's default models
        from dashboard.training.state import REGISTRY

        for job in REGISTRY.jobs():
            job.wait(300)
        at.run()
    if page.endswith("predict.py"):
        at.radio(key="predict_source").set_value("photo").run()
    if page.endswith("trust.py"):
        at.radio(key="trust_source").set_value("photo").run()
    uploaders = at.get("file_uploader")
    assert uploaders, f"no uploader on {page}"
    uploaders[0].set_value((f"{w}x{h}.png", encode(np.full((h, w), 200, np.uint8)), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [unplain(e.value) for e in at.error]
    if max(w, h) > 50 * min(w, h):
        assert any("thin strip" in e and "Crop it" in e for e in errors), errors
    for e in errors:  # it works, or says in plain words what was wrong and what to do
        assert "Traceback" not in e and "Error" not in e and e.rstrip().endswith("."), e
    if page.endswith("convolution.py") and min(w, h) < 3 and max(w, h) <= 50 * min(w, h):
        assert any("smaller than the 3×3 kernel" in e and "Use zero padding" in e for e in errors), errors


# ------------------------------------------------------------------------ user text is text

_ESCAPED = re.compile(r"(?:[^!-/:-@\[-`{-~]|\\[!-/:-@\[-`{-~])*")


@pytest.mark.parametrize("text", ["[Session expired, sign in](https://evil.example/login)", "![x](http://e/x.png)",
                                  "<img src=x onerror=alert(1)>", ":material/lock: :red[admin]", "$x^2$",
                                  "**bold** _it_ `code`", "line\nbreak # heading", "cats & dogs"])
def test_plain_escapes_every_markdown_and_html_character(text):
    out = plain(text)
    assert _ESCAPED.fullmatch(out), out  # every punctuation character escaped: nothing left to interpret
    assert re.sub(r"\\(.)", r"\1", out) == text.replace("\n", " ")  # and it shows exactly what was typed


def test_a_link_in_present_shows_as_plain_characters():
    at = AppTest.from_file("../dashboard/app.py", default_timeout=60)
    at.query_params["present"] = "[Session expired, sign in](https://evil.example/login)"
    at.run()
    assert not at.exception
    toasts = [t.value for t in at.toast]
    assert toasts and all(_ESCAPED.fullmatch(t.split("present=", 1)[1].rsplit(" in the link", 1)[0]) for t in toasts)
    assert "\\[Session expired\\, sign in\\]\\(https\\:\\/\\/evil\\.example\\/login\\)" in toasts[0]


def test_glossary_search_and_upload_names_are_plain():
    at = AppTest.from_file("../pages/glossary.py", default_timeout=30)
    at.query_params["find"] = "[click](https://evil.example)"
    at.run()
    assert not at.exception
    assert "\\[click\\]\\(https\\:\\/\\/evil\\.example\\)" in at.info[0].value
    at = AppTest.from_file("../pages/convolution.py", default_timeout=60).run()
    at.get("file_uploader")[0].set_value(("[x](https:evil.example).png", b"not a picture", "image/png")).run()
    assert not at.exception
    assert any("“\\[x\\]\\(https\\:evil\\.example\\)\\.png”" in e.value for e in at.error), [e.value for e in at.error]


# ------------------------------------------------------------------------ no traceback ever

def test_an_unexpected_error_shows_a_message_with_an_id_and_logs_the_traceback(monkeypatch, caplog):
    import dashboard.core.glossary_terms as terms

    class Broken(dict):
        def items(self):
            raise RuntimeError("secret detail /srv/netlens/path")

    monkeypatch.setattr(terms, "TERMS", Broken(terms.TERMS))
    monkeypatch.setenv("NETLENS_RERAISE", "0")
    caplog.set_level(logging.ERROR, logger="netlens.errors")
    at = AppTest.from_file("../dashboard/app.py", default_timeout=60).run()
    at.switch_page("../pages/glossary.py").run()
    assert not at.exception  # caught: nothing of the traceback on the page
    shown = [e.value for e in at.error]
    assert len(shown) == 1 and "secret" not in shown[0], shown
    error_id = re.search(r"error id ([0-9a-f]{8})", shown[0]).group(1)
    records = [r for r in caplog.records if error_id in r.getMessage()]
    assert records and records[0].exc_info and "secret detail" in str(records[0].exc_info[1])
    monkeypatch.setenv("NETLENS_RERAISE", "1")  # and under tests it is raised again
    at = AppTest.from_file("../dashboard/app.py", default_timeout=60).run()
    at.switch_page("../pages/glossary.py").run()
    assert at.exception and "secret detail" in at.exception[0].message


def test_the_shared_config_hides_error_details():
    import tomllib

    with open(".streamlit/config.toml", "rb") as f:
        assert tomllib.load(f)["client"]["showErrorDetails"] == "none"


# ------------------------------------------------------------------------ the canvas on the wire

def test_crafted_canvas_value_through_the_websocket_is_refused_with_memory_bounded(tmp_path):
    """The crafted picture sent as the component's state (json_value {"drawing": {"raw", "data"}}), the way
    its frontend sends it, ten times; then a real drawing. RSS sampled all along."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    from tests.servers import Server, Session

    server = Server(tmp_path, env={"NETLENS_WARM": "0"})
    try:
        async def go():
            s = Session(server.base)
            await s.connect()
            seq = await s.goto("predict")
            # the default models train first (no warm-up): minutes on a busy machine; the wait only detects a hang
            assert await s.wait(seq, lambda s: any(e.kind == "bidi_component" for e in s.elements.values()), 900,
                                "the canvas")
            canvas = next(e for e in s.elements.values() if e.kind == "bidi_component")
            start, peak = server.rss_mb(), 0.0
            bomb = data_url(bomb_png())
            for _ in range(10):
                s.widgets[canvas.wid] = WidgetState(id=canvas.wid, json_value=json.dumps(
                    {"drawing": {"raw": {"objects": []}, "data": bomb}}))
                seq = await s.rerun()
                assert await s.wait(seq, lambda s: True, 120, "refusal")
                peak = max(peak, server.rss_mb())
                assert any("drawing could not be read" in a for a in s.error_alerts[-1:]), s.summary()
            assert not s.errors, s.errors
            s.error_alerts.clear()
            s.widgets[canvas.wid] = WidgetState(id=canvas.wid, json_value=json.dumps(
                {"drawing": {"raw": {"objects": []}, "data": data_url(canvas_png())}}))
            seq = await s.rerun()
            assert await s.wait(seq, lambda s: s.has("markdown", " reads "), 180, "a prediction")
            assert not s.error_alerts and not s.errors
            await s.close()
            return peak - start

        growth = run_in_own_loop(go)  # the browser fixture's loop may run in this thread
        assert growth < 150, f"the server grew by {growth:.0f} MB"  # a decoded 12000² picture alone is 144 MB
    finally:
        server.stop()
