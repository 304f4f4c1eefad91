"""Load: a whole class at once, on loopback.

For each N (default 1, 10, 30) this starts one NetLens server on 127.0.0.1 (a free port, the
flags of tests/conftest.py, `server.disconnectedSessionTTL` 5 s), waits for its warm-up (the
default models and maps, read on /admin), then opens N real sessions that go, all at once,
through: 1. Home (session 1 alone first, then the other N-1 together); 2. Convolution and an
upload of a photo this script makes (JPEG, --photo WxH); 3. Training: Train with the defaults
(MLP 784-512-10, MNIST-5k, 10 epochs, seed 0) until the results show; 4. Representations: the
default maps of that model until all are drawn. Meanwhile one more session switches pages
(quiet reruns) and a probe process polls `/_stcore/health`.

Each session is a websocket client speaking Streamlit's own protocol (BackMsg / ForwardMsg) as
the browser does: `rerun_script` with the page and widget states, uploads through
`/_stcore/upload_file`, the `/media/…` images, and `auto_rerun` fragment reruns. JavaScript
rendering is not measured. What the server ran is read on its admin page (`/admin`, behind
NETLENS_ADMIN_PASSWORD, set here to a random token). Memory: RSS and PSS (smaps_rollup) of the
server and its worker processes from /proc.

    python benchmarks/load.py --sessions 30 --photo 4000x3000   # one round; N = 1, 10, 30 by default
    python benchmarks/load.py --quick                           # N = 1 and 5, a 1600×1200 photo
    python benchmarks/load.py --watch                           # CPU per second of training, 1 and 30 watchers
    python benchmarks/load.py --servers 2 --ray --sessions 30   # the cluster back end (benchmarks/load_cluster.py)

Prints a table, one `PASS` / `FAIL` line per bar (load_report.BARS; exit status 1 if one
fails) and one `LOAD …` line per round (benchmarks/load_line.py). Traffic goes only to 127.0.0.1; every wait is
bounded; what it starts is stopped. Parts: server.py, st_client.py, st_wire.py, load_steps.py, load_line.py,
load_report.py, watch.py, load_cluster.py + ray_head.py.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load_line import (  # noqa: E402
    SESSION_TTL_S,
    load_line,
    quiet_reruns,
    sample_rss,
    settle,
    settle_pss,
    wait_dropped,
    wait_warm,
)
from benchmarks.load_report import BARS, report  # noqa: E402
from benchmarks.load_steps import BAD_PREFIX, Student, bad_files, jobs_run, make_photo, rerun_loop  # noqa: E402
from benchmarks.server import ROOT, Server, probe_main, read_probe, start_probe  # noqa: E402


@dataclass
class Round:
    n: int
    start_s: float = 0.0
    rss_idle: float = 0.0
    rss_home1: float = 0.0
    rss_homeN: float = 0.0
    rss_peak: float = 0.0
    rss_end: float = 0.0
    pss_warm: float = 0.0  # PSS (server + workers) after the warm-up, before the sessions
    pss_peak: float = 0.0
    pss_open: float = 0.0  # every session through, still open
    pss_end: float = 0.0   # every session closed and dropped (disconnectedSessionTTL)
    quiet: list = field(default_factory=list)  # quiet reruns (page switches) while jobs ran
    cpu_s: float = 0.0
    first_render: list = field(default_factory=list)
    conv_upload: list = field(default_factory=list)
    trained: list = field(default_factory=list)
    maps: list = field(default_factory=list)
    completed: int = 0
    errors: list = field(default_factory=list)
    error_alerts: list = field(default_factory=list)
    bad_refused: int = 0  # sessions whose bad upload was refused in plain words
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


def _timeouts(n: int, scale: float) -> dict[str, float]:
    return {"home": 60 + 3 * n * scale, "conv": 90 + 6 * n * scale, "train": 180 + 6 * n * scale,
            "maps": 300 + 30 * n * scale}  # the maps slow down with every watching session (see README)


async def _homes(sessions: list[Student], server: Server, rnd: Round, timeout: float) -> None:
    """1. Home: one session, then everyone else at once (the memory bar)."""
    await sessions[0].home(timeout)
    rnd.rss_home1 = await settle(server)
    if len(sessions) > 1:
        await asyncio.gather(*(s.home(timeout) for s in sessions[1:]), return_exceptions=False)
        rnd.rss_homeN = await settle(server)
    else:
        rnd.rss_homeN = rnd.rss_home1


async def _journeys(sessions: list[Student], photo: bytes, t: dict) -> int:
    """2–4. Everyone uploads a bad file (tests/corpus.py, in turn), then goes through Convolution,
    Training and Representations, at their own pace."""
    bad = bad_files()

    async def journey(s: Student) -> bool:
        try:
            return (await s.bad_upload(*bad[(s.index - 1) % len(bad)], t["conv"])
                    and await s.convolution(photo, t["conv"]) and await s.train(t["train"])
                    and await s.representations(t["maps"]))
        except Exception as e:  # noqa: BLE001 - counted, not fatal
            s.error(f"{type(e).__name__}: {e}")
            return False

    results = await asyncio.wait_for(asyncio.gather(*(journey(s) for s in sessions)),
                                     t["conv"] + t["train"] + t["maps"] + 60)
    return sum(bool(r) for r in results)


async def _read_admin(server: Server, password: str, rnd: Round, log: list) -> None:
    """What the server ran, read from its admin page by one more session."""
    admin = Student(server.base, 0, log)
    try:
        await admin.connect()
        stats = await admin.admin(password, 60 + rnd.n)
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


async def _drive(server, sessions, rnd, photo, password, reruns, t, log) -> None:
    n = rnd.n
    print(f"  N={n}: warm-up: {await wait_warm(server.base, password, 900, log)}", flush=True)
    rnd.rss_idle, rnd.pss_warm = await settle(server, 1.0), await settle_pss(server)
    print(f"  N={n}: server up in {server.start_s:.1f} s (port {server.port}, {rnd.rss_idle:.0f} MB); Home…",
          flush=True)
    await _homes(sessions, server, rnd, t["home"])
    print(f"  N={n}: Convolution + upload, Training, Representations…", flush=True)
    t_journey = time.monotonic()
    stop_quiet = asyncio.Event()
    quiet = asyncio.create_task(quiet_reruns(server.base, stop_quiet, log))
    rnd.completed = await _journeys(sessions, photo, t)
    stop_quiet.set()
    rnd.quiet = await quiet
    print(f"  N={n}: all sessions through in {time.monotonic() - t_journey:.0f} s", flush=True)
    await _read_admin(server, password, rnd, log)
    rnd.pss_open = await settle_pss(server)
    if reruns:  # reruns of one page by one session (the first round only: the server alone with it)
        s = sessions[0]
        print(f"  N={n}: {reruns} reruns of the Convolution page by one session…", flush=True)
        seq = await s.goto("convolution")
        if await s.wait(seq, lambda x: x.has("imgs", "After:"), t["conv"], "Convolution again"):
            rnd.reruns = await rerun_loop(s, server.rss_mb, reruns, 60, BARS["rerun_settle_at"])


def _collect(rnd: Round, sessions: list[Student], log: list, probe_out: Path) -> None:
    for s in sessions:
        for key, dest in (("first_render", rnd.first_render), ("conv_upload", rnd.conv_upload),
                          ("trained", rnd.trained), ("maps", rnd.maps)):
            if key in s.times:
                dest.append(s.times[key])
        rnd.errors += [f"session {s.index}: {e}" for e in s.errors]
        expected = [e for e in s.error_alerts if f"“{BAD_PREFIX}" in e]  # the refusals of its bad upload
        rnd.bad_refused += bool(expected)
        rnd.error_alerts += [f"session {s.index}: {e}" for e in s.error_alerts if e not in expected]
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


async def run_round(n: int, photo: bytes, logdir: Path, reruns: int, scale: float) -> Round:
    """One fresh server, N sessions through the pages, the admin page's counts, the reruns."""
    rnd = Round(n)
    cpu_client0 = time.process_time()
    password = secrets.token_urlsafe(16)
    t_round = time.monotonic()
    server = Server(logdir, env={"NETLENS_ADMIN_PASSWORD": password, "NETLENS_WARM": "1",
                                 "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(SESSION_TTL_S)},
                    unset=("NETLENS_PASSWORD", "NETLENS_MODELS_DIR"))  # no class gate, no prepared models
    rnd.start_s = server.start_s
    cpu0 = server.cpu_s()
    probe, probe_out = start_probe(server, logdir, max_s=3600)
    log: list[str] = []
    sessions = [Student(server.base, i + 1, log) for i in range(n)]
    stop_sampler = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(server, rnd, stop_sampler))
    try:
        await _drive(server, sessions, rnd, photo, password, reruns, _timeouts(n, scale), log)
    except asyncio.TimeoutError:
        log.append(f"N={n}: the round ran past its time limit")
    finally:
        stop_sampler.set()
        await sampler
        rnd.rss_end = server.rss_mb()
        rnd.cpu_s = server.cpu_s() - cpu0
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        await asyncio.sleep(SESSION_TTL_S)
        kept = await wait_dropped(server.base, password, 60, log)  # the server shuts the closed sessions down
        if kept != "0":
            log.append(f"N={n}: {kept} closed sessions still kept a minute after they closed")
        rnd.pss_end = await settle_pss(server)
        probe.terminate()
        try:
            probe.wait(10)
        except subprocess.TimeoutExpired:
            probe.kill()
        rnd.server_log = server.log_tail()
        server.stop()
    rnd.wall_s = time.monotonic() - t_round
    rnd.client_cpu_s = time.process_time() - cpu_client0
    _collect(rnd, sessions, log, probe_out)
    return rnd


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        return probe_main(sys.argv[2], sys.argv[3], float(sys.argv[4])) or 0
    if "--ray" in sys.argv:  # the cluster back end: its own options (--servers, --sessions)
        from benchmarks.load_cluster import main as cluster_main

        return cluster_main()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30], help="the Ns, one round each")
    ap.add_argument("--quick", action="store_true", help="N = 1 and 5, a 1600×1200 photo")
    ap.add_argument(
        "--photo", default=None, help="size of the uploaded photo, WxH (default 4000x3000; quick 1600x1200)"
    )
    ap.add_argument("--reruns", type=int, default=200, help="reruns of one page by one session (first round)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the server logs and probe files")
    ap.add_argument("--watch", action="store_true", help="server CPU per second of training, 1 and 30 watchers")
    args, rest = ap.parse_known_args()
    if args.watch:  # its own options (--watchers) are read by benchmarks/watch.py
        from benchmarks.watch import main as watch_main

        return watch_main()
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
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
    for rnd in rounds:
        print(load_line(rnd, f"{w}x{h}"), flush=True)
    print(f"logs: {logdir}") if args.keep_logs else shutil.rmtree(logdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
