"""Every picture the app draws says what it shows (issue 36): no st.image anywhere (it writes an <img>
without alt), every picture goes through dashboard/core/alt_images.show with alt text, and what users
typed (file names, labels) is escaped inside that markup."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core import alt_images

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "dashboard").rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "dashboard" / "app.py"])


def _image_calls(path: Path) -> list[str]:
    """Calls like st.image(...), col.image(...), st.sidebar.image(...): Streamlit's picture element.
    `x.image()` with no arguments is an uploaded file's own method, not a drawing."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "image"
                and (node.args or node.keywords)):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_picture_is_drawn_without_alt_text():
    assert len(SOURCES) > 20
    assert [c for p in SOURCES for c in _image_calls(p)] == []
    users = [p for p in SOURCES if "alt_images.show(" in p.read_text(encoding="utf-8")]
    assert len(users) >= 7, users  # convolution, training, representations, predict, trust (2), uploads


def test_the_scan_finds_an_st_image(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\nst.image(b'x')\ncol.image(pic, caption='c')\nup.image()\n")
    assert len(_image_calls(bad)) == 2


def test_alt_and_caption_are_escaped_and_every_img_has_alt():
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    out = alt_images.markup([np.zeros((4, 4), np.uint8), np.full((4, 4, 3), 200, np.uint8)],
                            [hostile, "A gray square"], caption=[hostile, "ok"], width=84)
    assert "<script" not in out and "onerror=alert" not in out.replace("onerror=alert(2)&gt;", "")
    assert out.count("<img ") == 2 and len(re.findall(r'<img src="data:image/png;base64,[^"]+" alt="[^"]+"', out)) == 2
    assert "&lt;script&gt;" in out and 'alt="A gray square"' in out
    assert "width:84px" in out


def test_missing_or_miscounted_alt_text_is_refused():
    with pytest.raises(ValueError, match="alt text for every picture"):
        alt_images.markup(np.zeros((2, 2), np.uint8), None)
    with pytest.raises(ValueError, match="one alt text per picture"):
        alt_images.markup([np.zeros((2, 2), np.uint8)] * 2, ["only one"])
    with pytest.raises(ValueError, match="uint8"):
        alt_images.markup(np.zeros((2, 2)), "float")


def test_jpeg_bytes_keep_their_type_and_decorative_is_allowed():
    out = alt_images.markup(b"\xff\xd8\xff\xe0rest", "")
    assert 'src="data:image/jpeg;base64,' in out and 'alt=""' in out


def test_weights_alt_says_where_the_weights_are():
    w = np.zeros((9, 9))
    w[0, 0], w[8, 8] = 1.0, -1.0
    text = alt_images.weights_alt("class 3", w)
    assert "class 3" in text and "top left" in text and "bottom right" in text


def test_the_convolution_page_describes_its_photos():
    at = AppTest.from_file("../pages/convolution.py", default_timeout=60).run()
    assert not at.exception, at.exception
    bodies = [h.proto.body for h in at.get("html") if "<img" in h.proto.body]
    alts = [a for b in bodies for a in re.findall(r'<img [^>]*alt="([^"]*)"', b)]
    assert len(alts) == sum(b.count("<img") for b in bodies) >= 2
    assert any(a.startswith("The photo before filtering") for a in alts)
    assert any(a.startswith("The photo after the") for a in alts)
