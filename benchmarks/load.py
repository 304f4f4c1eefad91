"""Load: a whole class at once, on loopback.

For each N (default 1, 10, 30) this starts one NetLens server on 127.0.0.1 (a free port, the
flags of tests/conftest.py plus `--server.fileWatcherType none`), opens N real sessions
against it and drives every session through the pages, all sessions at the same time:

  1. Home (session 1 alone first, then the other N-1 together: the memory bar);
  2. Convolution, then an upload of a photo this script makes (JPEG, --photo WxH);
  3. Training: press Train with the default config (MLP 784-512-10, MNIST-5k, 10 epochs,
     seed 0) and wait for the results;
  4. Representations: the page's default maps of the session's model (t-SNE of 2,000 test
     and validation digits: pixels, hidden layer 1, logits) until all are drawn.

Each session is a websocket client speaking Streamlit's own protocol (the BackMsg /
ForwardMsg protobufs that ship with Streamlit) exactly as the browser does: it GETs `/` and
`/_stcore/health` (the XSRF cookie), opens `ws://…/_stcore/stream` (subprotocol `streamlit`),
sends `rerun_script` with the page and widget states, uploads through
`/_stcore/upload_file` after a `file_urls_request`, fetches the `/media/…` images the page
shows, and answers `auto_rerun` (st.fragment(run_every=…)) with periodic fragment reruns. So
the server does the work a browser would make it do; the JavaScript rendering is not
measured (first-render times are server side: request to `script_finished`).

Each round gets a fresh server, so every round starts cold (no model, no t-SNE cached from
the round before). What the server ran is read from outside through the app's own admin
page (`/admin`, behind NETLENS_ADMIN_PASSWORD, which this script sets to a random token):
the job registries' counts of queued/running/done jobs and the session count. Server memory
is the RSS of the server process and its children from /proc; a separate probe process
polls `/_stcore/health` all the time.

    python benchmarks/load.py                      # N = 1, 10, 30 (about 2–3 min here)
    python benchmarks/load.py --sessions 1 10      # pick the Ns
    python benchmarks/load.py --quick              # N = 1 and 5, a smaller photo (under 2 min)

Prints a table and one `PASS` / `FAIL` line per bar; exit status 1 if a bar fails.
Traffic goes only to 127.0.0.1; every wait is bounded; the servers it starts are stopped.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import io
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_FLAGS = ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
HTTP_POOL = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="http")

# What each page shows once it is ready (the pages' own words).
HOME_TITLE = "NetLens: see how neural nets work"
CONV_TITLE = "Convolution"
TRAIN_TITLE = "Training"
TRAINED_METRIC = "Test accuracy"
REP_TITLE = "Representations"
REP_DONE = "How well each map keeps the digits apart"


# ---------------------------------------------------------------- the server and /proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    return kids


def process_tree(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo and len(out) < 1000:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (MB, from /proc/PID/status)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total / 1024


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used by a process tree, reaped children included."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


class Server:
    """One NetLens server on loopback, started and stopped by this script (by its PID)."""

    def __init__(self, logdir: Path, admin_password: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = logdir / f"server-{self.port}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NETLENS_ADMIN_PASSWORD": admin_password}
        env.pop("NETLENS_PASSWORD", None)     # no class password: measure the app, not the gate
        env.pop("NETLENS_MODELS_DIR", None)   # no prepared models: the training must really run
        self._log = open(self.log_path, "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
                                      "--server.port", str(self.port), *SERVER_FLAGS],
                                     cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid
        deadline = t0 + 90
        while True:
            try:
                if urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start; its log:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        self.start_s = time.monotonic() - t0

    def rss_mb(self) -> float:
        return tree_rss_mb(self.pid)

    def cpu_s(self) -> float:
        return tree_cpu_s(self.pid)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


# ---------------------------------------------------------------- the health probe (its own process)


def probe_main(url: str, out: str, max_s: float) -> None:
    """Poll /_stcore/health every 0.1 s until killed or max_s; one line per probe:
    wall-clock time at the request, latency (s), 1 if the answer was 'ok' else 0."""
    end = time.time() + max_s
    with open(out, "w", buffering=1) as f:
        while time.time() < end:
            t = time.time()
            try:
                ok = urllib.request.urlopen(url, timeout=5).read() == b"ok"
            except OSError:
                ok = False
            f.write(f"{t:.3f} {time.time() - t:.4f} {int(ok)}\n")
            time.sleep(max(0.0, 0.1 - (time.time() - t)))


def start_probe(server: Server, logdir: Path, max_s: float) -> tuple[subprocess.Popen, Path]:
    out = logdir / f"health-{server.port}.txt"
    proc = subprocess.Popen([sys.executable, __file__, "--probe", f"{server.base}/_stcore/health", str(out),
                             str(max_s)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, out


def read_probe(path: Path) -> list[tuple[float, float, bool]]:
    rows = []
    try:
        for line in path.read_text().splitlines():
            t, lat, ok = line.split()
            rows.append((float(t), float(lat), ok == "1"))
    except (OSError, ValueError):
        pass
    return rows


# ---------------------------------------------------------------- a session speaking Streamlit's protocol


def make_photo(width: int, height: int) -> bytes:
    """A photo-like JPEG: smooth light, a few shapes, sensor-like noise (deterministic)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([120 + 80 * np.sin(x / width * 3.1), 100 + 90 * (y / height), 140 + 60 * np.cos((x + y) / width * 2)], -1)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), int(rng.integers(width // 30, width // 6))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    arr = np.asarray(img).astype(np.int16) + rng.normal(0, 6, (height, width, 3)).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _http(method: str, url: str, data: bytes | None = None, headers: dict | None = None,
          timeout: float = 60) -> tuple[int, bytes, list[str]]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as e:
        return e.code, e.read(), []


async def http(method: str, url: str, **kw) -> tuple[int, bytes, list[str]]:
    return await asyncio.get_running_loop().run_in_executor(HTTP_POOL, lambda: _http(method, url, **kw))


@dataclass
class El:
    kind: str            # the Element oneof ('heading', 'markdown', 'alert', 'imgs', …) or 'block'
    text: str = ""       # its visible words (label, body, caption)
    wid: str = ""        # a widget's id
    extra: object = None  # options of a selectbox, urls of images, an alert's format


def summarize(element) -> El:
    kind = element.WhichOneof("type")
    e = getattr(element, kind)
    if kind in ("heading", "markdown", "text", "json", "code"):
        return El(kind, e.body)
    if kind == "alert":
        return El(kind, e.body, extra=e.format)
    if kind == "metric":
        return El(kind, f"{e.label}: {e.body}")
    if kind == "exception":
        return El(kind, f"{e.type}: {e.message}")
    if kind == "imgs":
        return El(kind, " | ".join(i.caption for i in e.imgs), extra=[i.url for i in e.imgs])
    if kind == "progress":
        return El(kind, e.text)
    if kind in ("selectbox", "radio"):
        return El(kind, e.label, e.id, list(e.options))
    if hasattr(e, "id") and hasattr(e, "label"):  # every other widget
        return El(kind, e.label, e.id)
    return El(kind)


class Session:
    """One browser tab's worth of traffic: a websocket session and the HTTP calls around it."""

    def __init__(self, server: Server, index: int, log: list):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.BackMsg, self.ForwardMsg = BackMsg, ForwardMsg
        self.server, self.index, self.log = server, index, log
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.session_id = ""
        self.xsrf = ""
        self.pages: dict[str, str] = {}          # url_pathname -> page_script_hash
        self.page = ""                           # url_pathname of the page shown
        self.elements: dict[tuple, El] = {}      # this full run's elements by delta path
        self.full_seq = 0                        # full runs started
        self.full_done = False                   # the latest full run finished successfully
        self.run_id = ""
        self.widgets: dict[str, object] = {}     # widget id -> WidgetState proto we keep sending
        self.auto: dict[str, asyncio.Task] = {}  # fragment id -> its auto-rerun timer
        self.file_urls: dict[str, asyncio.Future] = {}
        self.changed = asyncio.Event()
        self.errors: list[str] = []
        self.error_alerts: list[str] = []        # st.error boxes the pages showed
        self.closed = False
        self.times: dict[str, float] = {}     # durations (s) and monotonic instants
        self.marks: dict[str, float] = {}     # wall-clock instants, to line up with the health probe
        self.bytes_in = 0

    # --------------------------------------------------------- plumbing

    def error(self, what: str) -> None:
        self.errors.append(what)
        self.log.append(f"session {self.index}: {what}")

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        base = self.server.base
        status, _, _ = await http("GET", f"{base}/")
        if status != 200:
            raise RuntimeError(f"GET / answered {status}")
        status, body, cookies = await http("GET", f"{base}/_stcore/health")
        if status != 200 or body != b"ok":
            raise RuntimeError(f"health answered {status} {body[:80]!r}")
        for c in cookies:
            name, _, rest = c.partition("=")
            if name.strip() == "_streamlit_xsrf":
                self.xsrf = rest.split(";", 1)[0]
        self.ws = await asyncio.wait_for(connect(
            f"ws://127.0.0.1:{self.server.port}/_stcore/stream", subprotocols=["streamlit", self.xsrf or "x"],
            additional_headers={"Cookie": f"_streamlit_xsrf={self.xsrf}"} if self.xsrf else None,
            max_size=None, ping_interval=None, open_timeout=60, close_timeout=5), 90)
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self.closed = True
        for t in self.auto.values():
            t.cancel()
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 10)
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        if self.reader is not None:
            self.reader.cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.bytes_in += len(raw)
                msg = self.ForwardMsg()
                msg.ParseFromString(raw)
                self._handle(msg)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001
            if not self.closed:
                self.error(f"websocket failed: {type(e).__name__}: {e}")
        if not self.closed:
            self.error("the server closed the websocket")
        self.changed.set()

    def _handle(self, msg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            if not msg.metadata.run.fragment_ids:   # a full run starts: the page is redrawn
                self.full_seq += 1
                self.full_done = False
                self.run_id = msg.metadata.run.script_run_id
                self.elements = {}
                for t in self.auto.values():  # as the browser: a full run drops every fragment timer,
                    t.cancel()                # the page re-announces the fragments it still has
                self.auto.clear()
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "delta":
            d = msg.delta
            path = tuple(msg.metadata.delta_path)
            if d.WhichOneof("type") == "new_element":
                el = summarize(d.new_element)
                self.elements[path] = el
                if el.kind == "exception":
                    self.error(f"exception on {self.page or 'home'}: {el.text[:300]}")
                elif el.kind == "alert" and el.extra == 1:  # Alert.ERROR
                    self.error_alerts.append(el.text[:300])
            elif d.WhichOneof("type") == "add_block":
                self.elements[path] = El("block")
        elif kind == "script_finished":
            status = msg.script_finished
            if status == self.ForwardMsg.FINISHED_SUCCESSFULLY and (
                    not msg.metadata.run.script_run_id or msg.metadata.run.script_run_id == self.run_id):
                self.full_done = True
            elif status == self.ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self.error(f"script compile error on {self.page or 'home'}")
            self.changed.set()
        elif kind == "session_event":
            ev = msg.session_event
            if ev.WhichOneof("type") == "script_compilation_exception":
                self.error(f"compile exception: {ev.script_compilation_exception.message[:300]}")
        elif kind == "page_not_found":
            self.error(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "auto_rerun":
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and fid not in self.auto:  # one timer per fragment, kept while it lives
                self.auto[fid] = asyncio.create_task(self._auto_rerun(fid, interval))
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                t = self.auto.pop(fid, None)
                if t:
                    t.cancel()
        elif kind == "file_urls_response":
            fut = self.file_urls.pop(msg.file_urls_response.response_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.file_urls_response)

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        """What the browser does for st.fragment(run_every=…): rerun that fragment on a timer."""
        try:
            for _ in range(100_000):  # bounded; cancelled when the fragment goes away
                await asyncio.sleep(max(0.1, interval))
                await self._send_rerun(fragment_id=fragment_id)
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001
            if not self.closed:
                self.error(f"auto-rerun failed: {e}")

    async def _send_rerun(self, triggers: list | None = None, fragment_id: str = "") -> None:
        m = self.BackMsg()
        cs = m.rerun_script
        cs.query_string = ""
        cs.page_name = self.page
        cs.page_script_hash = self.pages.get(self.page, "")
        if fragment_id:
            cs.fragment_id = fragment_id
            cs.is_auto_rerun = True
        for w in self.widgets.values():
            cs.widget_states.widgets.add().CopyFrom(w)
        for w in triggers or []:
            cs.widget_states.widgets.add().CopyFrom(w)
        await self.ws.send(m.SerializeToString())

    async def rerun(self, triggers: list | None = None) -> int:
        """Rerun the whole page (as after a click); returns the run count to wait beyond."""
        seq = self.full_seq
        await self._send_rerun(triggers)
        return seq

    async def goto(self, url_path: str) -> int:
        """Switch page (the browser's onPageChange: timers dropped, no widget states carried)."""
        self.page = url_path
        self.widgets.clear()
        for t in self.auto.values():
            t.cancel()
        self.auto.clear()
        return await self.rerun()

    async def wait(self, after_seq: int, ready, timeout: float, what: str) -> bool:
        """Wait until a full run started after `after_seq` has finished and ready(self) holds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.full_seq > after_seq and self.full_done and ready(self):
                return True
            if self.reader is not None and self.reader.done():
                self.error(f"{what}: the connection is gone")
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                self.error(f"{what}: not ready after {timeout:.0f} s (shown: {self.summary()})")
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
            except asyncio.TimeoutError:
                pass

    # --------------------------------------------------------- what is on the page

    def ordered(self) -> list[El]:
        return [self.elements[k] for k in sorted(self.elements)]

    def has(self, kind: str, text: str) -> bool:
        return any(e.kind == kind and text in e.text for e in self.elements.values())

    def widget(self, kind: str, label: str) -> El | None:
        return next((e for e in self.elements.values() if e.kind == kind and e.wid and e.text.startswith(label)), None)

    def summary(self) -> str:
        words = [f"{e.kind}:{e.text[:50]}" for e in self.ordered() if e.kind in ("heading", "alert", "exception", "progress")]
        return "; ".join(words)[:400]

    # --------------------------------------------------------- the steps a student takes

    async def home(self, timeout: float) -> bool:
        t0 = time.monotonic()
        self.marks["home0"] = time.time()
        await self.connect()
        seq = await self.goto("")
        ok = await self.wait(seq, lambda s: s.has("heading", HOME_TITLE), timeout, "Home")
        if ok:
            self.times["first_render"] = time.monotonic() - t0
            self.marks["home1"] = time.time()
        return ok

    async def convolution(self, photo: bytes, timeout: float) -> bool:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        t0 = time.monotonic()
        self.marks["conv0"] = time.time()
        seq = await self.goto("convolution")
        if not await self.wait(seq, lambda s: s.widget("file_uploader", "Upload your own picture"), timeout, "Convolution"):
            return False
        self.times["conv_render"] = time.monotonic() - t0
        t1 = time.monotonic()
        uploader = self.widget("file_uploader", "Upload your own picture")
        rid = uuid.uuid4().hex
        fut = asyncio.get_running_loop().create_future()
        self.file_urls[rid] = fut
        m = self.BackMsg()
        m.file_urls_request.request_id = rid
        m.file_urls_request.session_id = self.session_id
        m.file_urls_request.file_names.append("class-photo.jpg")
        await self.ws.send(m.SerializeToString())
        try:
            resp = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.error("upload: no file URL from the server")
            return False
        if resp.error_msg or not resp.file_urls:
            self.error(f"upload: file URL refused: {resp.error_msg}")
            return False
        urls = resp.file_urls[0]
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"class-photo.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
        upload_url = urls.upload_url if urls.upload_url.startswith("http") else self.server.base + urls.upload_url
        status, text, _ = await http("PUT", upload_url, data=body, timeout=timeout, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": self.xsrf,
            "Cookie": f"_streamlit_xsrf={self.xsrf}"})
        if status not in (200, 204):
            self.error(f"upload: PUT answered {status} {text[:200]!r}")
            return False
        ws = WidgetState(id=uploader.wid)
        info = ws.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = "class-photo.jpg", len(photo), urls.file_id
        info.file_urls.CopyFrom(urls)
        self.widgets[uploader.wid] = ws
        seq = await self.rerun()
        ok = await self.wait(seq, lambda s: s.has("imgs", "Before: Your picture: class-photo.jpg"), timeout,
                             "Convolution with the upload")
        if ok:
            ok = await self.fetch_images(timeout)
            self.times["conv_upload"] = time.monotonic() - t1
            self.marks["conv1"] = time.time()
        return ok

    async def fetch_images(self, timeout: float) -> bool:
        """GET the pictures the page shows, as a browser would."""
        ok = True
        for el in list(self.elements.values()):
            if el.kind == "imgs":
                for url in el.extra:
                    if not url or url.startswith("data:"):
                        continue
                    status, body, _ = await http("GET", url if url.startswith("http") else self.server.base + url,
                                                 timeout=timeout)
                    if status != 200 or not body:
                        self.error(f"image {url} answered {status}")
                        ok = False
        return ok

    async def train(self, timeout: float) -> bool:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        seq = await self.goto("train")
        if not await self.wait(seq, lambda s: s.widget("button", "Train"), timeout, "Training"):
            return False
        button = self.widget("button", "Train")
        self.times["train_click_at"] = time.monotonic()
        self.marks["train0"] = time.time()
        seq = await self.rerun([WidgetState(id=button.wid, trigger_value=True)])
        ok = await self.wait(seq, lambda s: s.has("metric", TRAINED_METRIC), timeout, "Training the default model")
        if ok:
            self.times["trained_at"] = time.monotonic()
            self.marks["train1"] = time.time()
            self.times["trained"] = self.times["trained_at"] - self.times["train_click_at"]
        return ok

    async def representations(self, timeout: float) -> bool:
        t0 = time.monotonic()
        self.marks["maps0"] = time.time()
        seq = await self.goto("representations")
        ok = await self.wait(seq, lambda s: s.has("heading", REP_DONE), timeout, "Representations (t-SNE maps)")
        if ok:
            self.times["maps"] = time.monotonic() - t0
            self.marks["maps1"] = time.time()
        return ok

    async def admin(self, password: str, timeout: float) -> dict:
        """Read the admin page: sessions, memory, and each job registry's counts."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        seq = await self.goto("admin")
        if not await self.wait(seq, lambda s: s.widget("text_input", "Admin password") or s.has("heading", "Jobs"),
                               timeout, "Admin"):
            return {}
        box = self.widget("text_input", "Admin password")
        if box is not None:
            self.widgets[box.wid] = WidgetState(id=box.wid, string_value=password)
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


# ---------------------------------------------------------------- one round: N sessions on one server


@dataclass
class Round:
    n: int
    start_s: float = 0.0
    rss_idle: float = 0.0
    rss_home1: float = 0.0
    rss_homeN: float = 0.0
    rss_peak: float = 0.0
    rss_end: float = 0.0
    cpu_s: float = 0.0
    first_render: list = field(default_factory=list)
    conv_upload: list = field(default_factory=list)
    trained: list = field(default_factory=list)
    maps: list = field(default_factory=list)
    completed: int = 0
    errors: list = field(default_factory=list)
    error_alerts: list = field(default_factory=list)
    trainings: int | None = None
    tsne_jobs: int | None = None
    sessions_seen: str = ""
    health_train: list = field(default_factory=list)   # (latency, ok) while the training job ran
    health_all: list = field(default_factory=list)
    health_phases: dict = field(default_factory=dict)  # phase -> [(latency, ok)]
    wall_s: float = 0.0
    client_cpu_s: float = 0.0  # this script's own CPU (it shares the cores with the server)
    reruns: dict = field(default_factory=dict)
    server_log: str = ""

    @property
    def per_extra_home_mb(self) -> float | None:
        return (self.rss_homeN - self.rss_home1) / (self.n - 1) if self.n > 1 else None


async def sample_rss(server: Server, rnd: Round, stop: asyncio.Event) -> None:
    while not stop.is_set():
        rnd.rss_peak = max(rnd.rss_peak, server.rss_mb())
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


async def settle(server: Server, seconds: float = 2.0) -> float:
    """RSS once the server has been idle a moment (median of a few samples)."""
    samples = []
    for _ in range(5):
        await asyncio.sleep(seconds / 5)
        samples.append(server.rss_mb())
    return statistics.median(samples)


async def rerun_loop(s: Session, server: Server, count: int, timeout: float) -> dict:
    """One session reruns the Convolution page `count` times on its uploaded photo, each time with
    the next kernel preset (a student clicking through them); server RSS every 10 reruns."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    box = s.widget("selectbox", "Kernel")
    if box is None:
        s.error("rerun loop: no Kernel selectbox on the Convolution page")
        return {}
    presets = [o for o in box.extra if o != "Custom"] or list(box.extra)
    source = s.widget("radio", "Picture")
    if source is not None and "Your own picture" in source.extra:  # back to the uploaded photo
        s.widgets[source.wid] = WidgetState(id=source.wid, string_value="Your own picture")
        seq = await s.rerun()
        if not await s.wait(seq, lambda x: x.has("imgs", "Before: Your picture"), timeout, "re-selecting the upload"):
            return {}
    else:
        s.error("rerun loop: the uploaded photo is no longer offered on the Convolution page")
    rss, times = [], []
    t_start = time.monotonic()
    for i in range(count):
        preset = presets[i % len(presets)]
        s.widgets[box.wid] = WidgetState(id=box.wid, string_value=preset)
        t0 = time.monotonic()
        seq = await s.rerun()
        if not await s.wait(seq, lambda x: x.has("imgs", f"After: {preset}"), timeout, f"rerun {i + 1} ({preset})"):
            break
        times.append(time.monotonic() - t0)
        if (i + 1) % 10 == 0:
            rss.append((i + 1, server.rss_mb()))
    settled_at = min(20, count)
    settled = next((m for k, m in rss if k == settled_at), rss[0][1] if rss else 0.0)
    return {"done": len(times), "rss": rss, "settled": settled, "final": rss[-1][1] if rss else 0.0,
            "max": max((m for _, m in rss), default=0.0), "median_s": statistics.median(times) if times else 0.0,
            "wall_s": time.monotonic() - t_start}


async def run_round(n: int, photo: bytes, logdir: Path, reruns: int, scale: float) -> Round:
    rnd = Round(n)
    cpu_client0 = time.process_time()
    password = secrets.token_urlsafe(16)
    t_round = time.monotonic()
    server = Server(logdir, password)
    rnd.start_s = server.start_s
    cpu0 = server.cpu_s()
    probe, probe_out = start_probe(server, logdir, max_s=3600)
    log: list[str] = []
    sessions = [Session(server, i + 1, log) for i in range(n)]
    stop_sampler = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(server, rnd, stop_sampler))
    t_home = 60 + 3 * n * scale
    t_conv = 90 + 6 * n * scale
    t_train = 180 + 6 * n * scale
    t_maps = 300 + 30 * n * scale  # the maps slow down with every watching session (see README)
    try:
        rnd.rss_idle = await settle(server, 1.0)
        print(f"  N={n}: server up in {server.start_s:.1f} s (port {server.port}, {rnd.rss_idle:.0f} MB); Home…",
              flush=True)
        # 1. Home: one session, then everyone else at once.
        await sessions[0].home(t_home)
        rnd.rss_home1 = await settle(server)
        if n > 1:
            await asyncio.gather(*(s.home(t_home) for s in sessions[1:]), return_exceptions=False)
            rnd.rss_homeN = await settle(server)
        else:
            rnd.rss_homeN = rnd.rss_home1

        # 2–4. Everyone goes through Convolution, Training and Representations, at their own pace.
        async def journey(s: Session) -> bool:
            try:
                return (await s.convolution(photo, t_conv) and await s.train(t_train)
                        and await s.representations(t_maps))
            except Exception as e:  # noqa: BLE001 - counted, not fatal
                s.error(f"{type(e).__name__}: {e}")
                return False

        print(f"  N={n}: Convolution + upload, Training, Representations…", flush=True)
        t_journey = time.monotonic()
        results = await asyncio.wait_for(asyncio.gather(*(journey(s) for s in sessions)),
                                         t_conv + t_train + t_maps + 60)
        rnd.completed = sum(bool(r) for r in results)
        print(f"  N={n}: all sessions through in {time.monotonic() - t_journey:.0f} s", flush=True)

        # What the server ran, read from its admin page by one more session.
        admin = Session(server, 0, log)
        try:
            await admin.connect()
            stats = await admin.admin(password, 60 + n)
            regs = stats.get("registries", {})
            if "train" in regs:
                rnd.trainings = jobs_run(regs["train"])
            if "tsne" in regs:
                rnd.tsne_jobs = jobs_run(regs["tsne"])
            rnd.sessions_seen = stats.get("Sessions open", "?")
            if not regs:
                log.append(f"admin page gave no registry counts (shown: {admin.summary()})")
        finally:
            await admin.close()

        # 200 reruns of one page by one session (the first round only: the server alone with it).
        if reruns:
            s = sessions[0]
            print(f"  N={n}: {reruns} reruns of the Convolution page by one session…", flush=True)
            seq = await s.goto("convolution")
            if await s.wait(seq, lambda x: x.has("imgs", "After:"), t_conv, "Convolution again"):
                rnd.reruns = await rerun_loop(s, server, reruns, 60)
    except asyncio.TimeoutError:
        log.append(f"N={n}: the round ran past its time limit")
    finally:
        stop_sampler.set()
        await sampler
        rnd.rss_end = server.rss_mb()
        rnd.cpu_s = server.cpu_s() - cpu0
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        probe.terminate()
        try:
            probe.wait(10)
        except subprocess.TimeoutExpired:
            probe.kill()
        rnd.server_log = server.log_tail()
        server.stop()
    rnd.wall_s = time.monotonic() - t_round
    rnd.client_cpu_s = time.process_time() - cpu_client0
    for s in sessions:
        for key, dest in (("first_render", rnd.first_render), ("conv_upload", rnd.conv_upload),
                          ("trained", rnd.trained), ("maps", rnd.maps)):
            if key in s.times:
                dest.append(s.times[key])
        rnd.errors += [f"session {s.index}: {e}" for e in s.errors]
        rnd.error_alerts += [f"session {s.index}: {e}" for e in s.error_alerts]
    rnd.errors += [line for line in log if not line.startswith("session ")]
    # Health by phase; "while the server trains" = from the first Train click to the first
    # session that has the model (the one shared training job ran in between).
    probes = read_probe(probe_out)
    rnd.health_all = [(lat, ok) for _, lat, ok in probes]

    def window(a: str, b: str, first_end: bool = False) -> tuple[float, float] | None:
        starts = [s.marks[a] for s in sessions if a in s.marks]
        ends = [s.marks[b] for s in sessions if b in s.marks]
        return (min(starts), min(ends) if first_end else max(ends)) if starts and ends else None

    for name, w in (("Home", window("home0", "home1")), ("Convolution + upload", window("conv0", "conv1")),
                    ("training job", window("train0", "train1", first_end=True)),
                    ("Training, all sessions", window("train0", "train1")), ("t-SNE maps", window("maps0", "maps1"))):
        if w is not None:
            rnd.health_phases[name] = [(lat, ok) for t, lat, ok in probes if w[0] <= t <= w[1]]
    rnd.health_train = rnd.health_phases.get("training job", [])
    return rnd


# ---------------------------------------------------------------- report


def med_max(xs: list) -> str:
    return f"{statistics.median(xs):.1f} / {max(xs):.1f}" if xs else "–"


def report(rounds: list[Round], reruns_needed: int) -> bool:
    print("\n| N | first render (s) med / max | conv. upload→result (s) | Train→model (s) | t-SNE maps (s) "
          "| RSS idle → 1 home → N homes → peak → end (MB) | MB per extra Home session | trainings run "
          "| t-SNE jobs run | sessions done | errors | health during training: probes, max latency "
          "| CPU server / clients (s) | round (s) |")
    print("|---" * 14 + "|")
    for r in rounds:
        extra = f"{r.per_extra_home_mb:.2f}" if r.per_extra_home_mb is not None else "–"
        ht = r.health_train
        health = (f"{sum(ok for _, ok in ht)}/{len(ht)} ok, {max(lat for lat, _ in ht):.2f} s" if ht else "none")
        print(f"| {r.n} | {med_max(r.first_render)} | {med_max(r.conv_upload)} | {med_max(r.trained)} "
              f"| {med_max(r.maps)} | {r.rss_idle:.0f} → {r.rss_home1:.0f} → {r.rss_homeN:.0f} → {r.rss_peak:.0f} "
              f"→ {r.rss_end:.0f} | {extra} | {r.trainings if r.trainings is not None else '?'} "
              f"| {r.tsne_jobs if r.tsne_jobs is not None else '?'} | {r.completed}/{r.n} | {len(r.errors)} "
              f"| {health} | {r.cpu_s:.0f} / {r.client_cpu_s:.0f} | {r.wall_s:.0f} |")
    def health(ps: list) -> str:
        if not ps:
            return "no probes"
        lats = sorted(lat for lat, _ in ps)
        return (f"{sum(ok for _, ok in ps)}/{len(ps)} ok, median {statistics.median(lats) * 1000:.0f} ms, "
                f"max {lats[-1] * 1000:.0f} ms")

    warnings = []
    for r in rounds:
        if r.health_all:
            print(f"N={r.n}: /_stcore/health (5 s timeout, every 0.1 s) over the whole round: {health(r.health_all)}; "
                  + "; ".join(f"{k}: {health(v)}" for k, v in r.health_phases.items()))
            print(f"N={r.n}: the admin page saw {r.sessions_seen} sessions (the N plus itself)")
            for k, v in r.health_phases.items():
                failed = sum(not ok for _, ok in v)
                if failed:
                    warnings.append(f"N={r.n}: /_stcore/health failed {failed} of {len(v)} probes during '{k}'")
        if r.reruns:
            rr = r.reruns
            print(f"N={r.n}: {rr['done']} reruns of Convolution (one session, kernel presets in turn, median "
                  f"{rr['median_s'] * 1000:.0f} ms each): RSS settled {rr['settled']:.0f} MB (after 20), "
                  f"final {rr['final']:.0f} MB, max {rr['max']:.0f} MB; every 10: "
                  + " ".join(f"{m:.0f}" for _, m in rr["rss"]))
        for e in r.errors[:10]:
            print(f"N={r.n} error: {e}")
        if len(r.errors) > 10:
            print(f"N={r.n}: … {len(r.errors) - 10} more errors")
        for e in r.error_alerts[:5]:
            print(f"N={r.n} st.error shown: {e}")
        if r.errors and r.server_log:
            print(f"N={r.n}: server log tail:\n{r.server_log[-1500:]}")

    big = max(rounds, key=lambda r: r.n)
    bars = []
    n_label = f"{big.n} concurrent sessions" + ("" if big.n >= 30 else " (the 30-session bar needs --sessions … 30)")
    bars.append((big.completed == big.n and not big.errors and not big.error_alerts,
                 f"{n_label} all get their pages with no error: {big.completed}/{big.n} done, "
                 f"{len(big.errors)} errors, {len(big.error_alerts)} error messages shown"))
    multi = [r for r in rounds if r.n > 1]
    if multi:
        worst = max(r.per_extra_home_mb for r in multi)
        bars.append((worst <= 25, "server memory grows ≤ 25 MB per extra session that opened Home only: "
                                  + ", ".join(f"N={r.n}: {r.per_extra_home_mb:.2f} MB" for r in multi)))
    bars.append((big.trainings == 1, f"{big.n} sessions training the default config cause one training: "
                                     f"the server ran {big.trainings if big.trainings is not None else 'unknown'}"))
    rr = next((r.reruns for r in rounds if r.reruns), None)
    if reruns_needed:
        if rr and rr["done"] == reruns_needed and rr["settled"]:
            drift = (rr["final"] - rr["settled"]) / rr["settled"]
            bars.append((abs(drift) <= 0.10, f"{reruns_needed} reruns of a page by one session leave server memory "
                                            f"within 10% of where it settled: {drift:+.1%} "
                                            f"({rr['settled']:.0f} → {rr['final']:.0f} MB)"))
        else:
            bars.append((False, f"{reruns_needed} reruns of a page by one session: only "
                                f"{rr['done'] if rr else 0} done"))
    ht = [p for r in rounds for p in r.health_train]
    bars.append((bool(ht) and all(ok for _, ok in ht),
                 f"/_stcore/health answers while the server trains: {sum(ok for _, ok in ht)}/{len(ht)} probes ok"
                 + (f", max {max(lat for lat, _ in ht):.2f} s" if ht else " (no probe fell in a training window)")))
    print()
    for ok, text in bars:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    for text in warnings:
        print(f"WARN  {text} (not one of the bars)")
    return all(ok for ok, _ in bars)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        probe_main(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30], help="the Ns, one round each")
    ap.add_argument("--quick", action="store_true", help="N = 1 and 5, a 1600×1200 photo")
    ap.add_argument("--photo", default=None, help="size of the uploaded photo, WxH (default 4000x3000; quick 1600x1200)")
    ap.add_argument("--reruns", type=int, default=200, help="reruns of one page by one session (first round)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the server logs and probe files")
    args = ap.parse_args()
    if args.quick:
        args.sessions = [1, 5]
    w, h = map(int, (args.photo or ("1600x1200" if args.quick else "4000x3000")).lower().split("x"))
    if min(args.sessions) < 1 or max(args.sessions) > 200:
        ap.error("each N must be between 1 and 200")
    photo = make_photo(w, h)
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    print(f"NetLens load benchmark at {commit}: N = {', '.join(map(str, args.sessions))}; photo {w}×{h} JPEG "
          f"({len(photo) / 1e6:.1f} MB); {os.cpu_count()} CPU cores; one fresh server per round", flush=True)
    logdir = Path(tempfile.mkdtemp(prefix="netlens-load-"))
    rounds = []
    for i, n in enumerate(args.sessions):
        scale = 1.0
        rounds.append(asyncio.run(run_round(n, photo, logdir, args.reruns if i == 0 else 0, scale)))
    ok = report(rounds, args.reruns)
    if args.keep_logs:
        print(f"logs: {logdir}")
    else:
        for p in logdir.iterdir():
            p.unlink()
        logdir.rmdir()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
