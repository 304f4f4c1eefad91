"""Datasets: IDX parsing, the MNIST folder, the image zip and its refusals, the split."""
import gzip
import io
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from analysis import datasets
from analysis.datasets import (
    DATASETS,
    Dataset,
    class_counts,
    load_dataset,
    load_image_zip,
    load_mnist_folder,
    mnist_dir,
    read_idx,
    split_dataset,
)
from tests.corpus import encode

# ---------------------------------------------------------------- IDX / MNIST

def idx_bytes(a: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[a.dtype.type]
    header = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def test_read_idx_plain_and_gzip():
    a = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    assert np.array_equal(read_idx(idx_bytes(a)), a)
    assert np.array_equal(read_idx(gzip.compress(idx_bytes(a))), a)
    b = np.array([1, -2, 300], dtype=np.int32)
    assert np.array_equal(read_idx(idx_bytes(b)), b)


@pytest.mark.parametrize("data, words", [
    (b"\x00\x00", "at least 4 bytes"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "magic"),
    (b"\x00\x00\x08\x03\x00\x00", "header"),
    (idx_bytes(np.zeros((2, 3, 3), np.uint8))[:-1], "truncated"),
    (idx_bytes(np.zeros((2, 3, 3), np.uint8)) + b"\x00", "extra bytes"),
    (b"\x1f\x8b\x08garbage", "gzip"),
], ids=["too-short", "png-not-idx", "short-header", "truncated", "extra-bytes", "broken-gzip"])
def test_read_idx_refuses(data, words):
    with pytest.raises(ValueError, match=words):
        read_idx(data)


def write_mnist(folder, n_train=6, n_test=4, gz=False, size=5):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, a in arrays.items():
        data = idx_bytes(a)
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
    return arrays


def test_mnist_folder_plain(tmp_path):
    arrays = write_mnist(tmp_path)
    ds = load_mnist_folder(tmp_path)
    assert ds.name == "mnist" and ds.images.shape == (10, 5, 5) and ds.images.dtype == np.float32
    assert np.allclose(ds.images[:6], arrays["train-images-idx3-ubyte"] / 255.0)
    assert np.array_equal(ds.labels, np.r_[np.arange(6), np.arange(4)])
    assert ds.class_names == tuple("0123456789") and ds.labels.dtype == np.int64


def test_mnist_dir_env_and_raw_layout(tmp_path, monkeypatch):
    monkeypatch.delenv("NETLENS_MNIST_DIR", raising=False)
    assert mnist_dir() is None
    monkeypatch.setenv("NETLENS_MNIST_DIR", str(tmp_path))
    assert mnist_dir() is None  # empty folder
    write_mnist(tmp_path / "MNIST" / "raw", gz=True)
    assert mnist_dir() == tmp_path
    datasets.load_dataset.cache_clear()
    try:
        ds = load_dataset("mnist")
        assert ds.images.shape == (10, 5, 5)
        assert not ds.images.flags.writeable
    finally:
        datasets.load_dataset.cache_clear()


def test_mnist_missing_file_and_bad_file(tmp_path, monkeypatch):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    monkeypatch.setenv("NETLENS_MNIST_DIR", str(tmp_path))
    assert mnist_dir() is None
    datasets.load_dataset.cache_clear()
    with pytest.raises(ValueError, match="NETLENS_MNIST_DIR"):
        load_dataset("mnist")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09")  # truncated
    with pytest.raises(ValueError, match="t10k-labels.*truncated"):
        load_mnist_folder(tmp_path)


def test_builtin_datasets():
    ds = load_dataset("mnist5k")
    assert ds.images.shape == (5000, 28, 28) and ds.image_shape == (28, 28) and ds.n_classes == 10
    assert ds.images.dtype == np.float32 and ds.images.min() == 0 and ds.images.max() == 1
    assert np.array_equal(np.bincount(ds.labels), [500] * 10)
    assert ds.images[:, 0, 0].max() == 0  # white ink on black: corners are background
    with pytest.raises(ValueError):
        ds.images[0, 0, 0] = 1  # shared and cached: read-only
    digits = load_dataset("digits")
    assert digits.images.shape == (1797, 8, 8) and digits.images.max() == 1
    assert set(DATASETS) == {"mnist5k", "digits", "mnist"}
    assert list(datasets.DATASET_LABELS) == list(DATASETS) and datasets.DEFAULT_DATASET in DATASETS
    with pytest.raises(ValueError, match="dataset must be one of 'mnist5k', 'digits', 'mnist'"):
        load_dataset("cifar")


# ---------------------------------------------------------------- image zip

def png(w=12, h=10, value=128, mode="L") -> bytes:
    return encode(Image.new(mode, (w, h), value if mode == "L" else (value, value, value)))


def make_zip(entries: dict, symlinks=()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():  # a fixed timestamp: the same bytes on every run
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
            zf.writestr(info, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def good_entries(top=""):
    return {f"{top}cats/{i}.png": png(value=40 * i) for i in range(3)} | {
        f"{top}dogs/{i}.png": png(value=200) for i in range(2)}


def test_zip_layout():
    ds = load_image_zip(make_zip(good_entries()), name="pets")
    assert isinstance(ds, Dataset) and ds.name == "pets"
    assert ds.class_names == ("cats", "dogs") and ds.images.shape == (5, 10, 12)
    assert np.bincount(ds.labels).tolist() == [3, 2]
    assert ds.images.dtype == np.float32 and np.isclose(ds.images.max(), 200 / 255)
    assert ds.fingerprint and not ds.images.flags.writeable
    # one top folder is stripped; other junk is ignored
    extra = {"README.txt": b"hello", "__MACOSX/._x.png": b"junk", "pets/.DS_Store": b"x", "pets/notes.csv": b"1,2"}
    same = load_image_zip(make_zip(good_entries("pets/") | extra))
    assert same.class_names == ("cats", "dogs") and len(same.labels) == 5
    assert same.fingerprint != ds.fingerprint


def test_zip_common_size_color_and_cap():
    entries = {"a/1.png": png(30, 20), "a/2.png": png(30, 20), "b/1.png": png(7, 9, mode="RGB"),
               "b/2.jpg": encode(Image.new("RGB", (30, 20), (255, 0, 0)), "JPEG")}
    ds = load_image_zip(make_zip(entries))
    assert ds.images.shape == (4, 20, 30)  # the most common size (H, W)
    assert load_image_zip(make_zip(entries), size=16).images.shape == (4, 16, 16)
    assert load_image_zip(make_zip(entries), size=(8, 12)).images.shape == (4, 8, 12)
    big = load_image_zip(make_zip({"a/1.png": png(200, 100), "b/1.png": png(200, 100)}))
    assert big.images.shape == (2, 32, 64)  # capped at 64, aspect kept
    with pytest.raises(ValueError, match="between 1 and 64"):
        load_image_zip(make_zip(entries), size=100)


def patch_png_size(data: bytes, w: int, h: int) -> bytes:
    """A PNG whose header claims w×h pixels (the pixel data stays tiny)."""
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", w, h)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return data[:16] + bytes(ihdr) + crc + data[33:]


def bomb_zip(declared_small=False) -> bytes:
    entries = good_entries() | {"cats/big.png": b"\x00" * 3_000_000}
    data = make_zip(entries)
    if declared_small:  # lie about the unpacked size in both headers
        data = bytearray(data)
        for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            pos = -1
            while (pos := data.find(sig, pos + 1)) != -1:
                if data.find(b"big.png", pos, pos + 200) != -1:
                    data[pos + offset:pos + offset + 4] = struct.pack("<I", 1000)
        data = bytes(data)
    return data


@pytest.mark.parametrize(
    "data, kwargs, words",
    [
        (b"this is not a zip", {}, "Expected a .zip"),
        (make_zip(good_entries() | {"../evil.png": png()}), {}, r"outside the archive"),
        (make_zip(good_entries() | {"cats/../../evil.png": png()}), {}, r"outside the archive"),
        (make_zip(good_entries() | {"/etc/evil.png": png()}), {}, "absolute path"),
        (make_zip(good_entries() | {"C:/evil.png": png()}), {}, "absolute path"),
        (make_zip(good_entries(), symlinks=["cats/link.png"]), {}, "symbolic link"),
        (make_zip(good_entries()), {"max_entries": 4}, "5 entries, the limit is 4"),
        (bomb_zip(), {"max_total_bytes": 1_000_000}, "declares 3,0"),
        (bomb_zip(declared_small=True), {"max_total_bytes": 1_000_000}, "damaged"),
        (make_zip({"cats/1.png": png(), "cats/2.png": png()}), {}, "at least two class folders"),
        (make_zip({"pets/cats/1.png": png(), "pets/cats/2.png": png()}), {}, "at least two class folders"),
        (make_zip({"1.png": png(), "dogs/1.png": png()}), {}, "inside a class folder"),
        (make_zip({"readme.txt": b"hi", "a/b.csv": b"1"}), {}, "the zip has none"),
        (
            make_zip(good_entries() | {"dogs/bad.png": b"not an image at all"}),
            {},
            "Refused 'dogs/bad.png'.*not a picture",
        ),
        (make_zip(good_entries() | {"dogs/cut.png": png(50, 50, mode="RGB")[:60]}), {}, "dogs/cut.png"),
        (
            make_zip(good_entries() | {"dogs/huge.png": patch_png_size(png(), 8000, 6000)}),
            {},
            "Refused 'dogs/huge.png'.*too large",
        ),
        (
            make_zip(good_entries() | {"dogs/bomb.png": patch_png_size(png(), 30000, 30000)}),
            {},
            "Refused 'dogs/bomb.png'.*far too large",
        ),
    ],
    ids=[
        "not-a-zip",
        "parent-folder",
        "climbs-out-of-class",
        "absolute-unix",
        "absolute-drive",
        "symlink",
        "too-many-entries",
        "declared-too-big",
        "declared-size-lies",
        "one-class",
        "one-class-under-top",
        "image-outside-class",
        "no-images",
        "not-a-picture",
        "cut-png",
        "huge-png",
        "png-bomb",
    ],
)
def test_zip_refusals(data, kwargs, words):
    with pytest.raises(ValueError, match=words):
        load_image_zip(data, **kwargs)


def test_zip_reading_counts_bytes():
    data = make_zip({"a/x.png": b"\x00" * 100_000})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        with pytest.raises(ValueError, match="more than 50,000 bytes"):
            datasets.read_zip_entry(zf, zf.infolist()[0], budget=50_000, max_total_bytes=50_000)


# ---------------------------------------------------------------- split and counts

def test_split_sizes_and_stratification():
    ds = load_dataset("mnist5k")
    split = split_dataset(ds, seed=0)
    assert (len(split.train), len(split.val), len(split.test)) == (3600, 400, 1000)
    everything = np.concatenate([split.train, split.val, split.test])
    assert np.array_equal(np.sort(everything), np.arange(5000))  # disjoint, complete
    rows = class_counts(ds, split)
    assert rows[0] == {"class": "0", "train": 360, "val": 40, "test": 100}
    assert all((r["train"], r["val"], r["test"]) == (360, 40, 100) for r in rows)
    again, other = split_dataset(ds, seed=0), split_dataset(ds, seed=1)
    assert np.array_equal(split.test, again.test) and not np.array_equal(split.test, other.test)


def test_split_too_few_images():
    ds = load_image_zip(make_zip(good_entries()))
    with pytest.raises(ValueError, match="smallest class has 2 images"):
        split_dataset(ds)
