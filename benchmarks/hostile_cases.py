"""The hostile cases of benchmarks/hostile.py (issue 25), each ``async def case(session, server) -> str | None``
registered with ``@case(name)`` in CASES: None when it held (the plain refusal or a working page, no
exception element, no traceback), else what went wrong."""
from __future__ import annotations

import base64
import io
import json
import time

import numpy as np
from PIL import Image

from benchmarks.st_client import Session
from tests.corpus import crafted_weights, encode, zip_of
from tests.corpus import webp_zip as make_webp_zip

CASES: dict[str, object] = {}
TIMEOUT = 120.0


def case(name: str):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def _alerts(s: Session) -> list[str]:
    from dashboard.core.guard import unplain

    return [unplain(a) for a in s.error_alerts]


def _problems(s: Session) -> str | None:
    """An exception element or a traceback's words anywhere on the page."""
    for e in s.elements.values():
        if e.kind == "exception" or "Traceback" in e.text or 'File "/' in e.text:
            return f"{e.kind}: {e.text[:160]}"
    return "; ".join(s.errors) or None


async def open_page(s: Session, path: str, ready=lambda s: True, query: str = "") -> bool:
    s.query = query
    seq = await s.goto(path)
    return await s.wait(seq, ready, TIMEOUT, path or "home")


async def _upload(s: Session, page: str, label: str, name: str, data: bytes, mime: str, want: str,
                  zip_data: bool = False) -> str | None:
    """Open ``page`` (choosing "Your own images (.zip)" first when ``zip_data``), upload into the uploader
    labelled ``label``, and wait for a refusal saying ``want``; None when it came, plainly."""
    def uploader(s):
        return next((e for e in s.elements.values() if e.kind == "file_uploader" and e.text.startswith(label)), None)

    if not await open_page(s, page, lambda s: uploader(s) is not None or s.widget("selectbox", "Digits") is not None):
        return f"{page} did not load"
    if zip_data:
        s.choose(s.widget("selectbox", "Digits to learn from"), "zip")
        seq = await s.rerun()
        await s.wait(seq, lambda s: uploader(s) is not None, TIMEOUT, "the zip uploader")
    if uploader(s) is None or not await s.upload(uploader(s), name, data, mime, TIMEOUT):
        return f"no upload ({s.summary()})"
    seq = await s.rerun()
    ok = await s.wait(seq, lambda s: any(want in a for a in _alerts(s)) or _problems(s), TIMEOUT, name)
    return _problems(s) or (None if ok and any(want in a for a in _alerts(s)) else
                            f"no refusal saying {want!r} (shown: {s.summary()})")


WEIGHTS, ZIP = "Restore a model from a .safetensors file", "Your images (.zip)"


# ---------------------------------------------------------------- the cases of issue 25

@case("weights-image-shape-30000")
async def weights_huge(s, server):
    return await _upload(s, "train", WEIGHTS, "big.safetensors", crafted_weights(image_shape=[30_000, 30_000]),
                         "application/octet-stream", "outside what NetLens trains on")


@case("weights-5000-classes")
async def weights_classes(s, server):
    return await _upload(s, "train", WEIGHTS, "many.safetensors", crafted_weights(n_classes=5000),
                         "application/octet-stream", "5,000 classes")


@case("strip-20000x1-convolution")
async def strip(s, server):
    return await _upload(
        s,
        "convolution",
        "Upload your own picture",
        "strip.png",
        encode(np.full((1, 20_000), 200, np.uint8)),
        "image/png",
        "thin strip",
    )


@case("zip-200-webp-6300")
async def webp_zip(s, server):
    return await _upload(s, "train", ZIP, "webp.zip", make_webp_zip(200, 6300), "application/zip",
                         "images in a zip may have at most", zip_data=True)


@case("zip-5001-entries")
async def many_entries(s, server):
    data = zip_of({f"a/{i}.txt": b"" for i in range(5001)})
    return await _upload(s, "train", ZIP, "many.zip", data, "application/zip", "5,001 entries", zip_data=True)


@case("canvas-12000x12000-png-x10")
async def canvas_bomb(s, server):
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    if not await open_page(s, "predict", lambda s: any(e.kind == "bidi_component" for e in s.elements.values())):
        return "predict's canvas did not load"
    canvas = next(e for e in s.elements.values() if e.kind == "bidi_component")
    buf = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    for _ in range(10):
        s.widgets[canvas.wid] = WidgetState(id=canvas.wid, json_value=json.dumps({"drawing": {"raw": {}, "data": url}}))
        seq = await s.rerun()
        await s.wait(seq, lambda s: True, TIMEOUT, "canvas")
        if _problems(s) or not any("drawing could not be read" in a for a in s.error_alerts[-1:]):
            return _problems(s) or f"no refusal (shown: {s.summary()})"
    s.widgets.pop(canvas.wid, None)
    return None


@case("present-markdown-link")
async def present_link(s, server):
    # the toast is not an element the client keeps: the page must load cleanly and show no link
    ok = await open_page(s, "", query="present=%5BSession%20expired%5D(https%3A%2F%2Fevil.example%2Flogin)")
    bad = [e.text for e in s.elements.values() if "](https://evil.example" in e.text]
    return _problems(s) or (None if ok and not bad else f"a live link: {bad[:1]}")


@case("glossary-find-link")
async def glossary_link(s, server):
    ok = await open_page(s, "glossary", lambda s: s.has("alert", "No entry mentions"),
                     query="find=%5Bclick%5D(https%3A%2F%2Fevil.example)")
    shown = [e.text for e in s.elements.values() if "evil" in e.text]
    return _problems(s) or (None if ok and shown and all("\\]\\(" in t for t in shown) else f"shown: {shown[:1]}")


@case("honest-1000-digit-zip")
async def honest_zip(s, server):
    rng = np.random.default_rng(0)
    data = zip_of({f"{i % 10}/{i}.png": encode((rng.random((28, 28)) * 255).astype(np.uint8)) for i in range(1000)})
    if not await open_page(s, "train", lambda s: s.widget("selectbox", "Digits to learn from") is not None):
        return "train did not load"
    s.choose(s.widget("selectbox", "Digits to learn from"), "zip")
    seq = await s.rerun()
    await s.wait(seq, lambda s: s.widget("file_uploader", ZIP) is not None, TIMEOUT, "zip uploader")
    uploader = s.widget("file_uploader", ZIP)
    t0 = time.monotonic()
    if not await s.upload(uploader, "digits.zip", data, "application/zip", TIMEOUT):
        return "upload refused"
    seq = await s.rerun()
    ok = await s.wait(seq, lambda s: s.has("markdown", "In use: digits") or s.error_alerts, TIMEOUT, "zip")
    print(f"    (the 1,000-digit zip: uploaded and in use after {time.monotonic() - t0:.1f} s)")
    return _problems(s) or (None if ok and not s.error_alerts else f"refused: {_alerts(s)[-1:]} ({s.summary()})")
