"""analysis.images: the one safe opener for uploads and for every entry of a dataset zip."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from analysis.datasets import load_image_zip
from analysis.images import ALLOWED_FORMATS, MAX_PIXELS, decode_image, open_image, shrink, sniff_format
from tests.corpus import EPS, PDF, SVG, encode, png_header_only

REFUSED = [("EPS", EPS, "EPS"), ("PDF", PDF, "PDF"), ("SVG", SVG, "SVG")]


@pytest.fixture
def plugin_calls(monkeypatch):
    """Every Pillow plugin (allowed or not) records when its accept test or its opener runs."""
    Image.init()
    calls = []
    for fmt, (factory, accept) in list(Image.OPEN.items()):
        def factory_(*a, _fmt=fmt, _factory=factory, **k):
            calls.append(("open", _fmt))
            return _factory(*a, **k)

        def accept_(prefix, _fmt=fmt, _accept=accept):
            calls.append(("accept", _fmt))
            return _accept(prefix) if _accept else True

        monkeypatch.setitem(Image.OPEN, fmt, (factory_, accept_))
    return calls


def test_the_plugin_recorder_sees_plugins_run(plugin_calls):
    # The control: an unrestricted Image.open of an EPS file does ask the EPS plugin.
    try:
        Image.open(io.BytesIO(EPS)).close()
    except Exception:
        pass  # Ghostscript or not, the plugin was asked
    assert ("accept", "EPS") in plugin_calls
    plugin_calls.clear()
    decode_image(encode(np.zeros((4, 4), np.uint8)))
    assert plugin_calls and all(fmt in ALLOWED_FORMATS for _, fmt in plugin_calls)


@pytest.mark.parametrize("what, data, found", REFUSED)
def test_upload_outside_the_allow_list_is_refused_before_any_plugin(plugin_calls, what, data, found):
    with pytest.raises(ValueError, match=found):
        decode_image(data)
    assert plugin_calls == []


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    return buf.getvalue()


@pytest.mark.parametrize("what, data, found", REFUSED)
def test_zip_entry_outside_the_allow_list_is_refused_before_any_plugin(plugin_calls, what, data, found):
    digit = encode(np.full((8, 8), 200, np.uint8))
    entries = {f"{c}/{i}.png": digit for c in ("cats", "dogs") for i in range(3)}
    entries[f"dogs/{what.lower()}.png"] = data
    with pytest.raises(ValueError) as e:
        load_image_zip(_zip(entries))
    message = str(e.value)
    assert f"dogs/{what.lower()}.png" in message and found in message, message
    assert not [c for c in plugin_calls if c[1] not in ALLOWED_FORMATS]


def test_zip_and_upload_share_one_pixel_cap():
    big = png_header_only(8000, 6000)  # 48 MP: over the cap
    with pytest.raises(ValueError, match="too large"):
        decode_image(big)
    digit = encode(np.full((8, 8), 200, np.uint8))
    with pytest.raises(ValueError, match=r"Refused 'b/big.png'.*too large"):
        load_image_zip(_zip({"a/1.png": digit, "a/2.png": digit, "b/1.png": digit, "b/big.png": big}))
    assert 8000 * 6000 > MAX_PIXELS


def test_zip_entries_are_turned_upright_and_first_frame():
    a = np.full((8, 16, 3), 255, np.uint8)
    a[:, :8] = 0  # left half black as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display: the black half goes to the top
    photo = encode(a, "JPEG", quality=95, exif=exif.tobytes())
    frames = [Image.new("L", (16, 8), v) for v in (0, 255)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    ds = load_image_zip(_zip({"a/1.jpg": photo, "a/2.jpg": photo, "b/1.gif": gif, "b/2.gif": gif}), size=(16, 8))
    upright = ds.images[ds.labels == 0][0]
    assert upright[:4].mean() < 0.2 and upright[-4:].mean() > 0.8
    assert ds.images[ds.labels == 1].max() < 0.1  # first frame (black), not the white one


@pytest.mark.parametrize("data, expected", [
    (encode(np.zeros((2, 2), np.uint8)), "PNG"), (encode(np.zeros((2, 2, 3), np.uint8), "JPEG"), "JPEG"),
    (EPS, "EPS (PostScript)"), (PDF, "PDF"), (SVG, "SVG or HTML text"), (b"hello", None),
])
def test_sniff_format(data, expected):
    assert sniff_format(data) == expected


def test_open_image_reads_only_the_header():
    im = open_image(encode(np.zeros((30, 20), np.uint8)))
    assert im.size == (20, 30) and im.format == "PNG"
    im.close()


def test_shrink_keeps_small_images_and_the_aspect_ratio():
    a = np.zeros((100, 50), np.float32)
    assert shrink(a, 200) is a
    assert shrink(a, 40).shape == (40, 20)


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"hello, this is not a picture at all" * 10, "not a picture"),
    (b"\x00\x01\x02\x03" * 100, "not a picture"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
    (b'  <svg width="28" height="28"><circle r="5"/></svg>', "SVG"),
    (b"<!DOCTYPE html><html><body>7</body></html>", "HTML"),
])
def test_decode_refuses_non_images(data, match):
    with pytest.raises(ValueError, match=match):
        decode_image(data)


def test_decode_refuses_text_renamed_png():
    # A text file saved as digit.png: the name says PNG, the bytes do not.
    with pytest.raises(ValueError, match="not a picture"):
        decode_image("My digit is a seven.\n".encode())


def test_decode_refuses_truncated_jpeg():
    img = (np.random.default_rng(1).random((160, 200, 3)) * 255).astype(np.uint8)
    data = encode(img, "JPEG", quality=95)
    with pytest.raises(ValueError, match="damaged|could not be read"):
        decode_image(data[: len(data) // 2])


def test_decode_refuses_truncated_png():
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 255, (100, 100), dtype=np.uint8)), "PNG")
    with pytest.raises(ValueError, match="damaged|could not be read"):
        decode_image(data[: len(data) // 2])


@pytest.mark.parametrize("w, h", [(8000, 6000), (100_000, 100_000)])
def test_decode_refuses_decompression_bomb_before_decoding(w, h):
    # 48 MP (over our 40 MP limit, under Pillow's own) and 10 GP (Pillow's error).
    assert w * h > MAX_PIXELS
    with pytest.raises(ValueError, match="too large"):
        decode_image(png_header_only(w, h))


def test_decode_refuses_huge_dimensions():
    with pytest.raises(ValueError, match="huge"):
        decode_image(png_header_only(60_000, 20))


def test_decode_honours_exif_orientation():
    a = np.full((40, 80, 3), 255, np.uint8)
    a[:20, :20] = 0                      # a black mark at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6                     # "rotate 90° clockwise to display"
    im = decode_image(encode(Image.fromarray(a), "JPEG", quality=95, exif=exif.tobytes()))
    assert im.size == (40, 80)           # width and height swapped
    b = np.asarray(im.convert("L"))
    assert b[:20, -20:].mean() < 60      # the mark is now at the top-right
    assert b[-20:, :20].mean() > 200


def test_decode_cmyk():
    im = Image.new("CMYK", (30, 20), (0, 0, 0, 255))       # full black ink
    im.paste((0, 0, 0, 0), (0, 0, 15, 20))                  # left half: no ink (white)
    for fmt in ("JPEG", "TIFF"):
        out = decode_image(encode(im, fmt))
        a = np.asarray(out)
        assert out.mode == "RGB" and out.size == (30, 20)
        assert a[:, :10].mean() > 230 and a[:, -10:].mean() < 30


def test_decode_16_bit_grayscale():
    a = np.zeros((20, 30), np.uint16)
    a[:, 10:20] = 32768
    a[:, 20:] = 65535
    out = decode_image(encode(Image.fromarray(a), "PNG"))
    b = np.asarray(out)
    assert out.mode == "RGB"
    assert b[:, :10].max() == 0 and abs(int(b[5, 15, 0]) - 128) <= 1 and b[:, 20:].min() == 255


def test_decode_alpha_is_flattened_on_white():
    la = Image.new("LA", (20, 20), (0, 0))                  # transparent everywhere
    la.paste((0, 255), (5, 5, 10, 15))                      # an opaque black stroke
    out = np.asarray(decode_image(encode(la, "PNG")))
    assert out[0, 0].tolist() == [255, 255, 255] and out[10, 7].tolist() == [0, 0, 0]
    rgba = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    rgba.paste((10, 10, 10, 255), (5, 5, 10, 15))
    out = np.asarray(decode_image(encode(rgba, "PNG")))
    assert out[0, 0].tolist() == [255, 255, 255] and out[10, 7].max() <= 10


def test_decode_white_strokes_on_transparent_stay_visible():
    rgba = Image.new("RGBA", (40, 40), (255, 255, 255, 0))
    rgba.paste((255, 255, 255, 255), (10, 5, 16, 35))
    out = np.asarray(decode_image(encode(rgba, "PNG")))
    assert out[0, 0].tolist() == [0, 0, 0] and out[20, 12].tolist() == [255, 255, 255]


def test_decode_palette_images():
    p = Image.new("P", (20, 20), 0)
    p.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    p.paste(1, (5, 5, 10, 15))
    out = np.asarray(decode_image(encode(p, "PNG")))
    assert out[0, 0].tolist() == [255, 255, 255] and out[10, 7].tolist() == [0, 0, 0]
    # Palette with a transparent index, as GIFs have.
    p.info["transparency"] = 0
    out = np.asarray(decode_image(encode(p, "GIF", transparency=0)))
    assert out[0, 0].tolist() == [255, 255, 255] and out[10, 7].tolist() == [0, 0, 0]


def test_decode_animation_gives_first_frame():
    frames = [Image.new("RGB", (20, 20), c) for c in ((250, 250, 250), (0, 0, 0), (0, 0, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = np.asarray(decode_image(data))
    assert out.mean() > 240
