"""The steps a student takes in benchmarks/load.py, each as a Streamlit-protocol session
(benchmarks/st_client.py) would make them: Home, Convolution with an upload, Training,
Representations, and the admin page that says what the server ran."""
from __future__ import annotations

import io
import json
import statistics
import time

from benchmarks.st_client import Session

# What each page shows once it is ready (the pages' own words).
HOME_TITLE = "NetLens: see how neural nets work"
TRAINED_METRIC = "Validation accuracy"  # the metric a finished training leads with
REP_DONE = "How well each map keeps the digits apart"
BAD_PREFIX = "bad-"  # the bad files' names start with it: their refusals are expected, not errors


def bad_files() -> list[tuple[str, str, bytes]]:
    """tests/corpus.py's bad pictures and bad zips (the decompression bomb and the zip bomb
    among them) as (kind, name, bytes), alternating, for the sessions to upload in turn."""
    from itertools import zip_longest

    from tests.corpus import image_corpus, zip_corpus

    images = [("image", BAD_PREFIX + k, v) for k, v in image_corpus().items()]
    zips = [("zip", BAD_PREFIX + k, v) for k, v in zip_corpus().items()]
    return [f for pair in zip_longest(images, zips) for f in pair if f is not None]


def make_photo(width: int, height: int) -> bytes:
    """A photo-like JPEG: smooth light, a few shapes, sensor-like noise (deterministic)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [120 + 80 * np.sin(x / width * 3.1), 100 + 90 * (y / height), 140 + 60 * np.cos((x + y) / width * 2)], -1
    )
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), int(rng.integers(width // 30, width // 6))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    arr = np.asarray(img).astype(np.int16) + rng.normal(0, 6, (height, width, 3)).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


class Student(Session):
    """A session that goes through the pages; durations in `times`, wall-clock instants in `marks`."""

    async def _visit(self, page: str, ready, timeout: float, what: str, mark: str, took: str) -> bool:
        """Open `page` until ready(self); its duration in times[took], instants in marks[mark + '0'/'1']."""
        t0 = time.monotonic()
        self.marks[mark + "0"] = time.time()
        if self.ws is None:
            await self.connect()
        seq = await self.goto(page)
        ok = await self.wait(seq, ready, timeout, what)
        if ok:
            self.times[took] = time.monotonic() - t0
            self.marks[mark + "1"] = time.time()
        return ok

    async def home(self, timeout: float) -> bool:
        return await self._visit("", lambda s: s.has("heading", HOME_TITLE), timeout, "Home", "home", "first_render")

    async def convolution(self, photo: bytes, timeout: float) -> bool:
        t0 = time.monotonic()
        self.marks["conv0"] = time.time()
        seq = await self.goto("convolution")
        if not await self.wait(
            seq, lambda s: s.widget("file_uploader", "Upload your own picture"), timeout, "Convolution"
        ):
            return False
        self.times["conv_render"] = time.monotonic() - t0
        t1 = time.monotonic()
        uploader = self.widget("file_uploader", "Upload your own picture")
        if not await self.upload(uploader, "class-photo.jpg", photo, "image/jpeg", timeout):
            return False
        seq = await self.rerun()
        ok = await self.wait(seq, lambda s: s.has("imgs", "Before: Your picture: class-photo.jpg"), timeout,
                             "Convolution with the upload")
        if ok:
            ok = await self.fetch_images(timeout)
            self.times["conv_upload"] = time.monotonic() - t1
            self.marks["conv1"] = time.time()
        return ok

    async def bad_upload(self, kind: str, name: str, data: bytes, timeout: float) -> bool:
        """Upload a bad file where the pages take them (a picture on Convolution, a .zip as the
        Training data); the page must refuse it in plain words naming it, never raise. A zip
        leaves the Training data back on the built-in digits."""
        page, label = ("convolution", "Upload your own picture") if kind == "image" else ("train", "Your images (.zip)")
        seq = await self.goto(page)
        if kind == "zip":
            if not await self.wait(seq, lambda s: s.widget("selectbox", "Digits to learn from"), timeout, "Training"):
                return False
            data_box = self.widget("selectbox", "Digits to learn from")
            self.choose(data_box, "Your own images (.zip)")
            seq = await self.rerun()
        if not await self.wait(seq, lambda s: s.widget("file_uploader", label), timeout, f"the uploader on {page}"):
            return False
        if not await self.upload(self.widget("file_uploader", label), name, data, "application/octet-stream", timeout):
            return False
        seq = await self.rerun()
        ok = await self.wait(
            seq, lambda s: s.has("alert", f"Could not use “{name}”"), timeout, f"the refusal of {name}"
        )
        if ok and kind == "zip":  # back to the built-in digits, as a student would (the page keeps the choice)
            from analysis.datasets import DATASET_LABELS

            self.choose(self.widget("selectbox", "Digits to learn from"), DATASET_LABELS["mnist5k"])
            seq = await self.rerun()
            ok = await self.wait(seq, lambda s: s.widget("button", "Train"), timeout, "Training on MNIST-5k again")
        return ok

    async def train(self, timeout: float) -> bool:
        seq = await self.goto("train")
        if not await self.wait(seq, lambda s: s.widget("button", "Train"), timeout, "Training"):
            return False
        button = self.widget("button", "Train")
        self.times["train_click_at"] = time.monotonic()
        self.marks["train0"] = time.time()
        seq = await self.rerun([self.trigger(button)])
        ok = await self.wait(seq, lambda s: s.has("metric", TRAINED_METRIC), timeout, "Training the default model")
        if ok:
            self.times["trained_at"] = time.monotonic()
            self.marks["train1"] = time.time()
            self.times["trained"] = self.times["trained_at"] - self.times["train_click_at"]
        return ok

    async def representations(self, timeout: float) -> bool:
        return await self._visit("representations", lambda s: s.has("heading", REP_DONE), timeout,
                                 "Representations (t-SNE maps)", "maps", "maps")

    async def admin(self, password: str, timeout: float) -> dict:
        """Read the admin page: sessions, memory, and each job registry's counts."""
        seq = await self.goto("admin")
        if not await self.wait(seq, lambda s: s.widget("text_input", "Admin password") or s.has("heading", "Jobs"),
                               timeout, "Admin"):
            return {}
        box = self.widget("text_input", "Admin password")
        if box is not None:
            self.choose(box, password)
            seq = await self.rerun()
            if not await self.wait(seq, lambda s: s.has("metric", "Sessions open"), timeout, "Admin (password)"):
                return {}
        return self.read_admin()

    async def admin_refresh(self, timeout: float) -> dict:
        seq = await self.rerun()
        if not await self.wait(seq, lambda s: s.has("metric", "Sessions open"), timeout, "Admin refresh"):
            return {}
        return self.read_admin()

    def read_admin(self) -> dict:
        out: dict = {"registries": {}}
        current = None
        for e in self.ordered():
            if e.kind == "metric":
                label, _, value = e.text.partition(": ")
                out[label] = value
            elif e.kind == "heading" and e.text.startswith("Jobs: "):
                current = e.text[len("Jobs: "):]
            elif e.kind == "json" and current:
                try:
                    out["registries"][current] = json.loads(e.text)
                except ValueError:
                    pass
                current = None
        return out


def jobs_run(stats: dict) -> int:
    """Jobs a registry actually started (running or finished), from its admin counts."""
    return sum(int(stats.get(k, 0)) for k in ("running", "done", "failed", "cancelled"))


async def rerun_loop(s: Student, rss_mb, count: int, timeout: float, settle_at: int = 20) -> dict:
    """One session reruns the Convolution page `count` times on its uploaded photo, each time with
    the next kernel preset (a student clicking through them); rss_mb() (the server's) every 10 reruns;
    'settled' is the reading after `settle_at` reruns."""
    box = s.widget("selectbox", "Kernel")
    if box is None:
        s.error("rerun loop: no Kernel selectbox on the Convolution page")
        return {}
    presets = [o for o in box.extra if o != "Custom"] or list(box.extra)
    source = s.widget("radio", "Picture")
    if source is not None and "Your own picture" in source.extra:  # back to the uploaded photo
        s.choose(source, "Your own picture")
        seq = await s.rerun()
        if not await s.wait(seq, lambda x: x.has("imgs", "Before: Your picture"), timeout, "re-selecting the upload"):
            return {}
    else:
        s.error("rerun loop: the uploaded photo is no longer offered on the Convolution page")
    rss, times = [], []
    t_start = time.monotonic()
    for i in range(count):
        preset = presets[i % len(presets)]
        s.choose(box, preset)
        t0 = time.monotonic()
        seq = await s.rerun()
        if not await s.wait(seq, lambda x: x.has("imgs", f"After: {preset}"), timeout, f"rerun {i + 1} ({preset})"):
            break
        times.append(time.monotonic() - t0)
        if (i + 1) % 10 == 0:
            rss.append((i + 1, rss_mb()))
    settled_at = min(settle_at, count)
    settled = next((m for k, m in rss if k == settled_at), rss[0][1] if rss else 0.0)
    return {"done": len(times), "rss": rss, "settled": settled, "final": rss[-1][1] if rss else 0.0,
            "max": max((m for _, m in rss), default=0.0), "median_s": statistics.median(times) if times else 0.0,
            "wall_s": time.monotonic() - t_start}

