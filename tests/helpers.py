"""Helpers shared by several test modules (no tests here): browser steps, pictures, the Training
page driven by AppTest, a stand-in for Ray's job client, and waiting on a condition.

Test modules import helpers from here, never from each other; what comes from benchmarks/ (the
server launcher and its websocket client) comes through tests/servers.py. Imports that pull in
Streamlit, the dashboard or the cluster back end happen inside the functions that need them.
"""
from __future__ import annotations

import asyncio
import enum
import io
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Callable

import numpy as np
import pytest
from PIL import Image

from tests import servers

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

    from analysis.compute.cluster.executor import RayExecutor


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.01):
    """Poll `condition` until it returns something true (returned); fail the test after `timeout`
    seconds, saying what did not happen. A generous timeout only detects a hang: it is not a bar."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"after {timeout} s: {what} did not happen"
        time.sleep(every)


def process_gone(pid: int) -> bool:
    """True once `pid` has exited (no such process, or a zombie waiting for its parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


# ---------------------------------------------------------------- from tests/test_browser_convolution.py

SHOTS = os.environ.get("NETLENS_SCREENSHOTS")


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def upload(page, path, label: str | None = None):
    """Choose a file in the uploader (the one whose label contains `label`, else the first)."""
    uploaders = page.locator('[data-testid="stFileUploader"]')
    if label:
        uploaders = uploaders.filter(has_text=label)
    uploaders.first.locator('input[type="file"]').set_input_files(str(path))


def idle(page, timeout=60_000):
    """Wait until the app is connected and has finished its current run (benchmarks/keyboard_tasks.py's one
    definition, through the door)."""
    servers.idle(page, timeout)


def _canvas_layers(page):
    """streamlit-drawable-canvas's canvases (its layers), in its component's iframe where it has one."""
    return (page.frame_locator("iframe").first if page.locator("iframe").count() else page).locator("canvas")


def drawing_canvas(page):
    """Predict's drawing canvas (its top layer, which takes the pointer), once drawn."""
    idle(page, 120_000)
    canvas = _canvas_layers(page).last
    canvas.wait_for()
    return canvas


def draw_a_stroke(page) -> None:
    """Draw one vertical stroke (a "1") on Predict's canvas, as a person with a mouse would."""
    box = drawing_canvas(page).bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for i in range(25):
        page.mouse.move(box["x"] + 140, box["y"] + 40 + i * 8)
    page.mouse.up()


def canvas_shows_ink(page) -> bool:
    """Whether Predict's canvas shows a drawing: white ink on its black (any of its layers, read pixel by pixel)."""
    layers = _canvas_layers(page)
    return any(layers.nth(i).evaluate("""c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 128 && d[i + 3] > 0) return true; return false; }""")
               for i in range(layers.count()))


def choose(page, label, option):
    """Open the selectbox labelled `label` and pick `option`, as a user would."""
    idle(page)
    for attempt in range(3):  # a rerun landing mid-click can close the list: try again
        page.get_by_role("combobox", name=label).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


# ---------------------------------------------------------------- from tests/test_browser_representations.py

def lasso(page, share: float = 0.35):
    """Draw a lasso (a box-shaped loop) around the middle `share` of the first map, once the page has
    finished its run (a rerun landing mid-drag replaces the map and the loop is lost) and the map is drawn."""
    idle(page, 180_000)
    plot = page.locator(".js-plotly-plot").first
    plot.evaluate("e => e.scrollIntoView({block: 'center'})")  # all of the loop on screen, not just a part of the map
    page.wait_for_function("() => { const e = document.querySelector('.js-plotly-plot');"
                           " return e && e._fullLayout && e.querySelector('.nsewdrag'); }", timeout=60_000)
    servers.settled(page)  # the charts laid out and still
    area = plot.locator(".nsewdrag").first.bounding_box()
    cx, cy = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2
    w, h = area["width"] * share, area["height"] * share
    page.mouse.move(cx - w, cy - h)
    page.mouse.down()
    for x, y in [(cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h), (cx - w, cy - h + 2)]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def plot_selection(page) -> dict:
    """What the first Plotly chart holds after a lasso (for a test's message): its selection outlines, the
    points each trace has selected, and the app's run and connection states."""
    return page.evaluate("""() => {
        const e = document.querySelector('.js-plotly-plot'), app = document.querySelector('[data-testid="stApp"]');
        return {outlines: e ? e.querySelectorAll('.selectionlayer path, .select-outline').length : null,
                selections: e && e._fullLayout ? (e._fullLayout.selections || []).length : null,
                selected: e && e.data ? e.data.map(t => t.selectedpoints ? t.selectedpoints.length : null) : null,
                run: app?.dataset.testScriptState, connection: app?.dataset.testConnectionState}; }""")


# ---------------------------------------------------------------- from tests/test_page_predict.py

class Clock:
    """A clock a test moves by hand: ``clock.t += 5``; calling it reads the time."""

    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def message_texts(at: AppTest) -> list[str]:
    """Every message, Markdown and caption an AppTest page shows, in order of kind."""
    return [e.value for kind in ("success", "warning", "error", "info", "markdown", "caption")
            for e in getattr(at, kind)]


def png(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def paper_photo(digit: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 28×28 MNIST digit as dark ink on light, noisy paper, larger and off-centre."""
    rng = np.random.default_rng(seed)
    big = np.kron(digit, np.ones((5, 5)))  # 140×140
    page = np.full((220, 180), 0.9) + rng.normal(0, 0.02, (220, 180))
    page[30:170, 10:150] -= 0.75 * big
    return (np.clip(page, 0, 1) * 255).astype(np.uint8)


# ---------------------------------------------------------------- from tests/test_page_train.py

TRAIN_PAGE = "../pages/train.py"


def models_of(at: AppTest) -> dict:
    """This session's models (the one owner: dashboard.core.session_models)."""
    from dashboard.core import session_models

    return session_models.state(at.session_state).models


def runs_of(at: AppTest) -> list:
    from dashboard.core import session_models

    return session_models.state(at.session_state).runs


def watched_key(at: AppTest) -> str | None:
    """The key of the training job this session watches (None when it watches none)."""
    from dashboard.training.state import training_state

    job = training_state(at.session_state).job
    return None if job is None else job.key


def run_page() -> AppTest:
    """The Training page, run once (AppTest resolves the path from this file, like the tests' own)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(TRAIN_PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def train_and_wait(at: AppTest) -> AppTest:
    from dashboard.core.training_jobs import REGISTRY

    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    if watched_key(at) is not None:  # else it joined a finished run and already collected it
        assert REGISTRY.get(watched_key(at)).wait(120)
        at.run()
    assert not at.exception, at.exception
    return at


def tiny(at: AppTest, kind: str, epochs: int = 1, data: str = "digits") -> AppTest:
    at.selectbox(key="train_data").set_value(data)
    at.radio(key="train_kind").set_value(kind)
    at.slider(key="train_epochs").set_value(epochs).run()
    return at


# ---------------------------------------------------------------- from tests/test_cluster_logic.py

KWARGS = {"features": [[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]] * 10, "labels": [0, 1, 2] * 10, "method": "pca"}


class Status(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


class FakeClient:
    """Ray's JobSubmissionClient as far as RayExecutor uses it; `script[sid]`: the statuses a job goes through."""

    def __init__(self, existing: dict | None = None, script: list | None = None, on_run=None):
        self.jobs = dict(existing or {})  # sid -> status name
        self.script, self.on_run, self.submits, self.stopped = list(script or ["SUCCEEDED"]), on_run, [], []

    def submit_job(self, *, entrypoint, submission_id, **kw):
        if submission_id in self.jobs:
            raise RuntimeError(
                f"Request failed with status code 500: Job with submission_id {submission_id} already exists."
            )
        self.submits.append((submission_id, entrypoint, kw))
        self.jobs[submission_id] = "PENDING"
        return submission_id

    def get_job_info(self, sid):
        if self.jobs[sid] in ("PENDING", "RUNNING") and sid in [s for s, _, _ in self.submits] and self.script:
            self.jobs[sid] = self.script.pop(0)
            if self.jobs[sid] == "SUCCEEDED" and self.on_run:
                self.on_run(sid)
        return SimpleNamespace(status=Status(self.jobs[sid]), message=f"Job {self.jobs[sid].lower()}: exit code 1")

    def get_job_logs(self, sid):
        return '{"netlens": "progress", "t": 0, "progress": 0.5, "message": "half way"}\nTraceback\nValueError: boom\n'

    def stop_job(self, sid):
        self.stopped.append(sid)


def make(tmp_path, client, **config) -> RayExecutor:
    from analysis.compute.cluster.executor import ClusterConfig, RayExecutor
    from analysis.compute.store import Store

    ex = RayExecutor(
        ClusterConfig(address="http://head:8265", poll_s=0.01, **config), Store(str(tmp_path)), client=client
    )
    ex._gpus = (float("inf"), 0.0)  # no GPU, never asked again
    return ex


def finish(ex: RayExecutor):
    """on_run: the job writes its result, as analysis.compute.cluster.maps would."""
    def write(sid):
        buf = io.BytesIO()
        np.save(buf, np.zeros((30, 2), np.float32))
        ex.store.put(
            sid if sid.count("-") == 1 else sid.rsplit("-", 1)[0],
            {
                "coords.npy": buf.getvalue(),
                "result.json": json.dumps({"explained": [0.6, 0.4], "metrics": {}}).encode(),
            },
        )

    return write


# ---------------------------------------------------------------- from tests/test_isolation.py

def in_own_thread(fn, *args, **kwargs):
    """fn(*args, **kwargs) in a fresh thread (which runs its own asyncio.run or Playwright sync API): the
    session's browser fixture keeps an event loop running in the test's thread, where neither may start."""
    out: dict = {}

    def target() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as e:  # re-raised in the test's thread
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def run_in_own_loop(make_coroutine):
    """asyncio.run in a fresh thread: Playwright's sync API (the browser tests) keeps an event
    loop running in this thread, where asyncio.run refuses to start."""
    return in_own_thread(lambda: asyncio.run(make_coroutine()))


# ---------------------------------------------------------------- from tests/test_cluster.py

def jobs_for(ex: RayExecutor, key: str) -> list:
    """The cluster's jobs for one job key (its first ID and the retries `<key>-2`, …)."""
    return [j for j in ex.client().list_jobs() if j.submission_id == key or str(j.submission_id).startswith(key + "-")]


# ---------------------------------------------------------------- from tests/test_cluster_servers.py

SHOWN_METRIC = "Validation accuracy"  # what a trained model shows at once (its test score stays hidden until revealed)


# ---------------------------------------------------------------- from tests/test_deploy.py (nginx and the manifests)

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx" / "netlens.conf"
KUBE = ROOT / "deploy" / "kubernetes"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found:
        return found
    why = "nginx is not installed (Debian: apt-get install -y nginx)"
    if os.environ.get("NETLENS_REQUIRE_NGINX") == "1":
        pytest.fail(f"NETLENS_REQUIRE_NGINX=1 but {why}")
    pytest.skip(why)


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        why = "the openssl command is not installed (Debian: apt-get install -y openssl)"
        if os.environ.get("NETLENS_REQUIRE_NGINX") == "1":
            pytest.fail(f"NETLENS_REQUIRE_NGINX=1 but {why}")
        pytest.skip(why)
    cert, key = workdir / "test.crt", workdir / "test.key"
    out = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                          "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                          "-out", str(cert)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return cert, key


def render(workdir: Path, upstreams: list[str], port: int, http_port: int, cert: Path, key: Path) -> Path:
    """deploy/nginx/netlens.conf for this machine: its upstream servers, listen addresses (HTTPS on
    `port`, the redirect on `http_port`), certificate paths and log path replaced (each must be found
    exactly as the sample has it), inside a main config whose pid, logs and temp folders are under
    `workdir`. Returns the main config's path."""
    text = NGINX_CONF.read_text()
    servers = re.findall(r"^\s*server \d+\.\d+\.\d+\.\d+:\d+ [^;]*;\n", text, flags=re.M)
    assert len(servers) == 2, "the sample's upstream should list two example app servers"
    text = text.replace(servers[0], "".join(f"    server {u} max_fails=3 fail_timeout=10s;\n" for u in upstreams))
    text = text.replace(servers[1], "")
    for old, new in ((r"^    listen 443 ssl;$", f"    listen 127.0.0.1:{port} ssl;"),
                     (r"^    listen 80;$", f"    listen 127.0.0.1:{http_port};"),
                     (r"^    ssl_certificate     \S+;$", f"    ssl_certificate     {cert};"),
                     (r"^    ssl_certificate_key \S+;$", f"    ssl_certificate_key {key};"),
                     (r"/var/log/nginx/netlens\.access\.log", str(workdir / "access.log"))):
        text, n = re.subn(old, new, text, flags=re.M)
        assert n == 1, f"the sample should have {old!r} once, outside comments"
    (workdir / "netlens.conf").write_text(text)
    user = "user root;\n" if os.geteuid() == 0 else ""  # root: workers as root, to reach the temp folders
    temps = "".join(f"    {k}_temp_path {workdir / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = workdir / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\npid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} warn;\n"
        f"events {{ worker_connections 1024; }}\nhttp {{\n{temps}    include {workdir / 'netlens.conf'};\n}}\n"
    )
    return main


def nginx_cmd(nginx: str, main: Path, *args: str) -> list[str]:
    return [nginx, "-c", str(main), "-p", str(main.parent), "-e", str(main.parent / "error.log"), *args]


class Nginx:
    """A real nginx on 127.0.0.1 with the rendered sample and a self-signed certificate (clients
    verify it: SSL_CERT_FILE names it); stopped by the pid in its pid file."""

    def __init__(self, nginx: str, workdir: Path, upstreams: list[str], wait_for_app: bool = True):
        self.port, self.http_port = servers.free_port(), servers.free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.cert, key = self_signed(workdir)
        self.tls = ssl.create_default_context(cafile=str(self.cert))
        self.main = render(workdir, upstreams, self.port, self.http_port, self.cert, key)
        self.pid_file, self.log = workdir / "nginx.pid", workdir / "access.log"
        out = subprocess.run(nginx_cmd(nginx, self.main), capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"nginx did not start: {out.stderr}"
        deadline = time.monotonic() + 30
        while not self._answers(200 if wait_for_app else None):
            assert time.monotonic() < deadline, "nginx did not answer /_stcore/health in 30 s"
            time.sleep(0.2)

    def _answers(self, want: int | None) -> bool:
        try:
            return urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=2, context=self.tls).status == want
        except urllib.error.HTTPError:
            return want is None
        except OSError:
            return False

    def stop(self) -> None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        os.kill(pid, signal.SIGTERM)  # nginx's fast shutdown: the master ends its workers
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def routes(self) -> dict[str, list[str]]:
        """From the access log: each route key (one browser) -> the app server of each of its requests."""
        seen: dict[str, list[str]] = defaultdict(list)
        for line in self.log.read_text().splitlines():
            m = re.search(r"route=(\S+) upstream=(\S+)", line)
            if m:
                seen[m.group(1)].append(m.group(2))
        return seen


def manifests() -> dict[str, list[dict]]:
    """Every document of deploy/kubernetes/*.yaml, by kind."""
    import yaml  # PyYAML, pinned in requirements.txt
    docs: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert {"apiVersion", "kind", "metadata"} <= doc.keys(), (path.name, doc)
                docs[doc["kind"]].append(doc)
    return docs


def pod_templates(docs) -> list[tuple[str, dict]]:
    """(name, pod template) of the app Deployment and every Ray group."""
    out = [(d["metadata"]["name"], d["spec"]["template"]) for d in docs["Deployment"]]
    for ray in docs["RayCluster"]:
        out.append((f"{ray['metadata']['name']} head", ray["spec"]["headGroupSpec"]["template"]))
        out += [(f"{ray['metadata']['name']} {g['groupName']}", g["template"]) for g in ray["spec"]["workerGroupSpecs"]]
    return out
