"""A corpus of bad inputs the tests make: every input point must refuse each with a clear
message and keep the session working."""
from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def encode(image, fmt: str = "PNG", **kw) -> bytes:
    """The tests' one image builder: a PIL image or a uint8/uint16 array saved as `fmt`
    (PNG, JPEG, GIF, TIFF, WEBP, BMP …) with Pillow's `save` keywords (quality, exif, …)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions (a decompression bomb's header) with a tiny body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


# Files in formats outside the allow-list, each renamed .png by its maker.
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\n%%EOF\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'


def zip_of(entries: dict[str, bytes]) -> bytes:
    """A .zip (deflated) of `entries` (name -> bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def image_corpus() -> dict[str, bytes]:
    photo = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    return {
        "empty.png": b"",
        "text-renamed.png": b"Dear class, this is a text file, not a picture.\n" * 20,
        "truncated.jpg": encode(photo, "JPEG")[:300],
        "bomb.png": png_header_only(60_000, 60_000),
        "huge-dimensions.png": png_header_only(1, 2_000_000),
        "svg-renamed.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "page.html.png": b"<html><body><script>alert('hi')</script></body></html>",
        "pickle.png": pickle.dumps({"not": "an image"}),
        "strip-20000x1.png": encode(np.full((1, 20_000), 200, np.uint8)),  # a thin strip (issue 25)
    }


def zip_corpus() -> dict[str, bytes]:
    digit = encode((np.random.default_rng(1).random((28, 28)) * 255).astype(np.uint8))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/big.png", b"\x00" * 300_000_000)  # compresses to ~300 KB
        zf.writestr("b/x.png", digit)
    return {
        "empty.zip": b"",
        "text-renamed.zip": b"not a zip file",
        "escape.zip": zip_of({"../evil/x.png": digit, "b/y.png": digit}),
        "bomb.zip": bomb.getvalue(),
        "one-class.zip": zip_of({f"only/{i}.png": digit for i in range(20)}),
        "pickle.zip": pickle.dumps([1, 2, 3]),
        "big-webp.zip": webp_zip(3, 2100),  # each entry 4.4 MP: over the zip's per-entry pixel cap (issue 25)
        "many-entries.zip": zip_of(
            {f"a/{i}.txt": b"" for i in range(5001)}
        ),  # over the entry cap, counted from the end record
    }


def webp_zip(n: int, side: int) -> bytes:
    """A small zip of ``n`` lossless side×side WebP images (a few KB each, side² pixels each when decoded)."""
    tile = encode(np.zeros((side, side), np.uint8), "WEBP", lossless=True)
    return zip_of({f"{'ab'[i % 2]}/{i}.webp": tile for i in range(n)})


def weights_corpus() -> dict[str, bytes]:
    return {
        "empty.safetensors": b"",
        "pickle.safetensors": pickle.dumps({"weight": [1.0, 2.0]}),
        "random.safetensors": np.random.default_rng(2).bytes(4096),
        "text.safetensors": b"{\"__metadata__\": {}}",
        "huge-shape.safetensors": crafted_weights(image_shape=[30_000, 30_000]),  # 36 GB if built (issue 25)
        "many-classes.safetensors": crafted_weights(n_classes=5_000),
    }


def crafted_weights(image_shape=(28, 28), n_classes: int = 10, kind: str = "mlp") -> bytes:
    """A few hundred bytes of .safetensors: NetLens metadata describing a model, and no tensors."""
    import json

    meta = {"format": "netlens-weights", "version": "1",
            "model_config": json.dumps({"kind": kind, "hidden": [512], "channels": [16, 32]}),
            "train_config": "{}", "dataset_name": json.dumps("mnist5k"), "dataset_fingerprint": json.dumps(""),
            "class_names": json.dumps([str(i) for i in range(n_classes)]), "image_shape": json.dumps(list(image_shape)),
            "val_accuracy": "0.9", "test_accuracy": "0.9", "seconds": "1", "device": json.dumps("cpu"),
            "history": json.dumps({"rows": [], "stopped": False})}
    header = json.dumps({"__metadata__": meta}).encode()
    return struct.pack("<Q", len(header)) + header


class _WritesMarker:
    """Unpickling this object creates the file `path`: proof that a loader unpickled it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def unpickle_traps(marker_path) -> dict[str, bytes]:
    """Files whose unpickling (by pickle, torch.load, or any Unpickler) writes `marker_path`."""
    import torch

    trap = _WritesMarker(str(marker_path))
    buf = io.BytesIO()
    torch.save({"weight": trap}, buf)  # a PyTorch .pt file (a zip holding a pickle)
    return {"trap.safetensors": pickle.dumps(trap), "trap-torch.safetensors": buf.getvalue()}
