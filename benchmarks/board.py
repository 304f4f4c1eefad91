"""Board: a whole room sends digits to the class board while the projector watches.

Starts one NetLens server on 127.0.0.1 (a free port; the default models trained ahead with
`python -m analysis.train --save` into a cache folder and served from NETLENS_MODELS_DIR, the
warm-up off: this measures the board, not training or maps). One projector session types the
teacher password on the Board page, opens a board and watches it (its `st.fragment(run_every=1)`
reruns answered as the browser does). Then N student sessions open Predict, "draw" a digit — the
canvas component's value set exactly as the browser's canvas sends it (a PNG data URL of the
280×280 RGBA drawing, in the component's JSON state) — type the join code, pick the digit they
meant and press Send, spread over --spread seconds (a room does not press Send in the same
instant). `shown` counts the digits rendered in the projector session's page; `show` is the time
from a student's Send to its digit in the projector's page. A probe process polls
`/_stcore/health`; memory is the PSS of the server and its workers (/proc).

    python benchmarks/board.py --students 100
    python benchmarks/board.py --students 10 --spread 5     # quick

Prints `BOARD students=<n> shown=<n> show_p95_s=<x> health_p99_s=<x> peak_pss_mb=<x> map_placed_s=<x>`
and one PASS/FAIL line per bar (exit status 1 if one fails). `map_placed_s` (bar ≤ 5 s): after the round, the
round's digits placed on the default MLP's hidden-layer map (benchmarks/board_map.py, which also runs alone).
Loopback only; every wait is bounded; what it starts is stopped.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.board_map import BAR_S as MAP_BAR_S  # noqa: E402
from benchmarks.board_map import map_placed_s  # noqa: E402
from benchmarks.load_line import p  # noqa: E402
from benchmarks.server import ROOT, Server, read_probe, start_probe  # noqa: E402
from benchmarks.st_client import Session  # noqa: E402

BARS = {"show_p95_s": 2.0, "health_p99_s": 1.0, "peak_pss_mb": 2.5 * 1024}
MODELS_CACHE = ROOT / "benchmarks" / ".cache" / "board-models"
DIGIT_RE = re.compile(r'data-digit="(\d+)"')
SENT_RE = re.compile(r"your digit #(\d+)")


def prepare_models(folder: Path) -> None:
    """The three default models (MNIST-5k, 10 epochs, seed 0) as .safetensors, trained once."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("logreg", "mlp", "cnn"):
        if any(folder.glob(f"*{kind}*.safetensors")):
            continue
        print(f"  training the default {kind} once (cached in {folder})…", flush=True)
        subprocess.run([sys.executable, "-m", "analysis.train", "--dataset", "mnist5k", "--model", kind,
                        "--save", str(folder)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=1800)


def canvas_value(digit28: np.ndarray) -> str:
    """What Predict's canvas (streamlit-drawable-canvas, a components.v2 component) sends: its JSON
    state with the drawing as a PNG data URL of the 280×280 RGBA canvas, white ink on black."""
    import cv2

    big = cv2.resize((digit28 * 255).astype(np.uint8), (280, 280), interpolation=cv2.INTER_LINEAR)
    rgba = np.dstack([big, big, big, np.full_like(big, 255)])
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    url = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")
    raw = {"version": "5.3.0", "objects": [{"type": "path", "stroke": "#FFFFFF", "strokeWidth": 22}],
           "background": "#000000"}
    return json.dumps({"drawing": {"raw": raw, "data": url}, "backgroundFit": None})


class Projector(Session):
    """The lecturer's session: opens a board and watches it; records when each digit first shows."""

    def __init__(self, base: str, log: list):
        super().__init__(base, 0, log)
        self.seen: dict[int, float] = {}
        self.code = ""

    def _handle(self, msg) -> None:
        super()._handle(msg)
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            if el.WhichOneof("type") == "html":
                now = time.monotonic()
                for m in DIGIT_RE.finditer(el.html.body):
                    self.seen.setdefault(int(m.group(1)), now)

    async def open_board(self, password: str, timeout: float) -> str:
        await self.connect()
        seq = await self.goto("board")
        if not await self.wait(seq, lambda s: s.widget("text_input", "Teacher password"), timeout, "Board page"):
            return ""
        box = self.widget("text_input", "Teacher password")
        self.choose(box, password)
        seq = await self.rerun()
        if not await self.wait(seq, lambda s: s.widget("button", "Open a new board"), timeout, "teacher password"):
            return ""
        button = self.widget("button", "Open a new board")
        self.widgets.pop(box.wid, None)  # the password box empties after a try
        seq = await self.rerun([self.trigger(button)])
        if not await self.wait(seq, lambda s: s.has("markdown", "Join code:"), timeout, "open a board"):
            return ""
        text = next(e.text for e in self.ordered() if e.kind == "markdown" and "Join code:" in e.text)
        self.code = text.split("`")[1]
        return self.code


class Student(Session):
    """Opens Predict, draws (the canvas's value), joins with the code, picks the label, sends."""

    def __init__(self, base: str, index: int, log: list, digit: np.ndarray, label: int):
        super().__init__(base, index, log)
        self.digit, self.label = digit, label
        self.sent_at: float | None = None
        self.digit_id: int | None = None

    async def send(self, code: str, think_s: float, timeout: float) -> bool:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        await self.connect()
        seq = await self.goto("predict")
        canvas = lambda s: next((e for e in s.elements.values() if e.kind == "bidi_component" and e.wid), None)  # noqa: E731
        if not await self.wait(seq, canvas, timeout, "Predict"):
            return False
        await asyncio.sleep(think_s)  # drawing takes a while
        wid = canvas(self).wid
        self.widgets[wid] = WidgetState(id=wid, json_value=canvas_value(self.digit))
        seq = await self.rerun()
        if not await self.wait(seq, lambda s: s.widget("text_input", "Join code"), timeout, "the drawing read"):
            return False
        box = self.widget("text_input", "Join code")
        self.choose(box, code)
        seq = await self.rerun()
        if not await self.wait(seq, lambda s: s.widget("selectbox", "Which digit did you mean?"), timeout, "join"):
            return False
        self.widgets.pop(box.wid, None)  # the box empties after a try (and is gone once joined)
        self.choose(self.widget("selectbox", "Which digit did you mean?"), str(self.label))
        button = self.widget("button", "Send to the board")
        self.sent_at = time.monotonic()
        seq = await self.rerun([self.trigger(button)])
        if not await self.wait(seq, lambda s: s.has("alert", "your digit #"), timeout, "send"):
            return False
        text = next(e.text for e in self.elements.values() if e.kind == "alert" and "your digit #" in e.text)
        self.digit_id = int(SENT_RE.search(text).group(1))
        return True


async def room(projector_base: str, bases: list[str], teacher: str, n: int, spread: float, log: list) -> dict:
    """One round: the projector (on ``projector_base``) opens a board; n students, round-robin over ``bases``
    (as a sticky load balancer spreads them), send a digit each over ``spread`` s; waits (at most 30 s after
    the last send) until the projector's page shows them. Returns the sessions, the results and what showed."""
    from analysis.datasets import load_dataset

    ds = load_dataset("mnist5k")
    rng = random.Random(0)
    picks = [rng.randrange(len(ds.labels)) for _ in range(n)]
    projector = Projector(projector_base, log)
    students = [Student(bases[i % len(bases)], i + 1, log, ds.images[k], int(ds.labels[k]))
                for i, k in enumerate(picks)]
    results: list = [None] * n
    try:
        code = await projector.open_board(teacher, 120)
        if not code:
            raise RuntimeError(f"the projector could not open a board: {log}")
        print(f"  board {code} open; {n} students send over {spread:.0f} s…", flush=True)
        timeout = 120 + 2 * n
        results = await asyncio.wait_for(asyncio.gather(
            *(s.send(code, rng.uniform(0, spread), timeout) for s in students), return_exceptions=True), timeout + 60)
        sent = {s.digit_id: s for s, r in zip(students, results) if r is True and s.digit_id is not None}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not set(sent) <= set(projector.seen):
            await asyncio.sleep(0.1)
    finally:
        await asyncio.gather(projector.close(), *(s.close() for s in students), return_exceptions=True)
    failed = [f"student {s.index}: {r!r}" for s, r in zip(students, results) if r is not True]
    errors = [e for s in [projector, *students] for e in s.errors + s.error_alerts]
    return {"projector": projector, "students": students, "sent": sent, "errors": errors[:10] + failed[:10],
            "room": np.stack([s.digit for s in students])}


def shown(r: dict, base: str | None = None) -> dict:
    """Of the digits sent (from ``base``'s students, or all): how many showed, and send → shown times."""
    mine = {i: s for i, s in r["sent"].items() if base is None or s.base == base}
    shows = [r["projector"].seen[i] - s.sent_at for i, s in mine.items() if i in r["projector"].seen]
    n = sum(1 for s in r["students"] if base is None or s.base == base)
    return {"students": n, "sent": len(mine), "shown": len(shows), "show_p95_s": p(shows, 0.95),
            "show_max_s": max(shows, default=float("nan"))}


async def run(n: int, spread: float, logdir: Path) -> dict:
    prepare_models(MODELS_CACHE)
    admin, teacher = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    server = Server(logdir, env={"NETLENS_ADMIN_PASSWORD": admin, "NETLENS_TEACHER_PASSWORD": teacher,
                                 "NETLENS_WARM": "0", "NETLENS_MODELS_DIR": str(MODELS_CACHE)},
                    unset=("NETLENS_PASSWORD",))
    probe, probe_out = start_probe(server, logdir, max_s=3600)
    log: list[str] = []
    peak = {"pss": server.pss_mb()}
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            peak["pss"] = max(peak["pss"], server.pss_mb())
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    sampler = asyncio.create_task(sample())
    t0 = time.time()
    try:
        r = await room(server.base, [server.base], teacher, n, spread, log)
    finally:
        stop.set()
        await sampler
        probe.terminate()
        try:
            probe.wait(10)
        except subprocess.TimeoutExpired:
            probe.kill()
        tail = server.log_tail()
        server.stop()
    health = [lat if ok else 5.0 for t, lat, ok in read_probe(probe_out) if t >= t0]
    return {**shown(r), "health_p99_s": p(health, 0.99), "peak_pss_mb": peak["pss"], "errors": r["errors"],
            "log": log[:10], "tail": tail if r["errors"] else "", "room": r["room"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--spread", type=float, default=30.0, help="students press Send over this many seconds")
    ap.add_argument("--servers", type=int, default=1, help="app servers (2 or more need --ray)")
    ap.add_argument("--ray", action="store_true", help="the cluster back end: a local Ray head and a shared store")
    args = ap.parse_args()
    if args.servers > 1 or args.ray:
        if not args.ray or not 1 <= args.servers <= 4:
            ap.error("--servers 2 (up to 4) goes with --ray: the board is shared through the cluster's store")
        from benchmarks.board_servers import main_servers

        return main_servers(args.servers, args.students, args.spread)
    with tempfile.TemporaryDirectory(prefix="netlens-board-") as tmp:
        r = asyncio.run(run(args.students, args.spread, Path(tmp)))
    for e in r["errors"] + r["log"]:
        print("  error:", e)
    if r["tail"]:
        print(r["tail"][-2000:])
    ok = r["shown"] == args.students
    print(f"{'PASS' if ok else 'FAIL'} shown = students: {r['shown']} of {args.students} (sent {r['sent']})")
    for bar, limit in BARS.items():
        good = r[bar] <= limit
        ok &= good
        print(f"{'PASS' if good else 'FAIL'} {bar} <= {limit:g}: {r[bar]:.2f}")
    print(f"  show max {r['show_max_s']:.2f} s")
    placed = map_placed_s(r["room"], MODELS_CACHE)["map_placed_s"]  # after the round: the server is stopped
    ok &= placed <= MAP_BAR_S
    print(f"{'PASS' if placed <= MAP_BAR_S else 'FAIL'} map_placed_s <= {MAP_BAR_S:g}: {placed:.3f}")
    print(f"BOARD students={r['students']} shown={r['shown']} show_p95_s={r['show_p95_s']:.2f} "
          f"health_p99_s={r['health_p99_s']:.2f} peak_pss_mb={r['peak_pss_mb']:.0f} map_placed_s={placed:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
