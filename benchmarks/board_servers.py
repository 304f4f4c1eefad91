"""The class board across app servers: `python benchmarks/board.py --servers 2 --ray --students 100`.

Starts one local Ray head (benchmarks/ray_head.py: 127.0.0.1, free ports, 2 CPUs, at nice 10) and S NetLens
servers on the cluster back end (NETLENS_RAY_ADDRESS and one shared store, a temp folder with its own signing
key; the default models trained ahead and served from NETLENS_MODELS_DIR, the warm-up off). The board lives in
the shared store (analysis/compute/board_shared.py). The projector session opens the board on the first
server; the students are dealt round-robin over the servers, each staying on its server, as the sticky load
balancer (deploy/nginx/netlens.conf) keeps a browser on one server — here they connect to the servers
directly, not through nginx. The round is benchmarks/board.py's: each student draws (the canvas's value),
joins with the code, picks the digit and presses Send; `shown` counts the digits that appear in the
projector's page. Prints one line per server (its students, and that server's health and memory):

    BOARD server=<i> students=<n> shown=<n> show_p95_s=<x> health_p99_s=<x> peak_pss_mb=<x> map_placed_s=nan

Bars, per server: shown = students, show_p95_s <= 3 (exit status 1 if one fails). Everything it starts is
stopped (the Ray head by its own processes, never `ray stop`).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.board import MODELS_CACHE, prepare_models, room, shown  # noqa: E402
from benchmarks.load_cluster import start_servers  # noqa: E402
from benchmarks.load_line import p  # noqa: E402
from benchmarks.ray_head import RayHead  # noqa: E402
from benchmarks.server import Server, read_probe, start_probe  # noqa: E402

BARS = {"show_p95_s": 3.0}


def cluster_env(head: RayHead, logdir: Path, teacher: str, models: Path | None) -> dict:
    """The app servers' settings: the cluster back end on ``head``, a fresh store under ``logdir`` with a signing
    key of its own, the teacher password; ``models``: the prepared default models (NETLENS_MODELS_DIR)."""
    key_file = logdir / "store.key"
    key_file.write_text(secrets.token_hex(32))
    key_file.chmod(0o600)
    env = {"NETLENS_RAY_ADDRESS": head.address, "NETLENS_STORE": str(logdir / "store"), "NETLENS_WARM": "0",
           "NETLENS_WORKERS": "0", "NETLENS_RAY_INSECURE": "1",  # a head on 127.0.0.1 only, started here
           "NETLENS_STORE_KEY_FILE": str(key_file), "NETLENS_TEACHER_PASSWORD": teacher}
    if models is not None:
        env["NETLENS_MODELS_DIR"] = str(models)
    return env


def board_servers(n: int, head: RayHead, logdir: Path, teacher: str, models: Path | None) -> list[Server]:
    """n app servers on ``head`` sharing one store (see cluster_env); RuntimeError if one does not start."""
    return start_servers(n, logdir, cluster_env(head, logdir, teacher, models), unset=("NETLENS_PASSWORD",))


async def _measure(servers: list[Server], teacher: str, n: int, spread: float, log: list) -> tuple[dict, dict]:
    """The round, with each server's PSS sampled every 0.5 s meanwhile: (the round, peak PSS by server)."""
    peak = {s.base: s.pss_mb() for s in servers}
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            for s in servers:
                peak[s.base] = max(peak[s.base], s.pss_mb())
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    sampler = asyncio.create_task(sample())
    try:
        return await room(servers[0].base, [s.base for s in servers], teacher, n, spread, log), peak
    finally:
        stop.set()
        await sampler


def run_servers(n_servers: int, n: int, spread: float, logdir: Path) -> list[dict]:
    """One row per server: its students, what showed on the projector (on server 0), its health and memory."""
    prepare_models(MODELS_CACHE)
    teacher, log = secrets.token_urlsafe(16), []
    head = RayHead(num_cpus=2, nice=10)
    servers, probes = [], []
    try:
        print(f"  Ray head at {head.address} in {head.start_s:.0f} s; starting {n_servers} servers…", flush=True)
        servers = board_servers(n_servers, head, logdir, teacher, MODELS_CACHE)
        probes = [start_probe(s, logdir, max_s=3600) for s in servers]
        t0 = time.time()
        r, peak = asyncio.run(_measure(servers, teacher, n, spread, log))
    finally:
        for proc, _ in probes:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        tails = [s.log_tail() for s in servers]
        for s in servers:
            s.stop()
        head.stop()
    rows = []
    for i, (s, (_, out)) in enumerate(zip(servers, probes)):
        health = [lat if ok else 5.0 for t, lat, ok in read_probe(out) if t >= t0]
        rows.append({"server": i, **shown(r, s.base), "health_p99_s": p(health, 0.99), "peak_pss_mb": peak[s.base],
                     "tail": tails[i] if r["errors"] else ""})
    rows[0]["errors"] = r["errors"] + log[:10]
    return rows


def main_servers(n_servers: int, n: int, spread: float) -> int:
    with tempfile.TemporaryDirectory(prefix="netlens-board-servers-") as tmp:
        rows = run_servers(n_servers, n, spread, Path(tmp))
    for e in rows[0]["errors"]:
        print("  error:", e)
    ok = True
    for r in rows:
        if r["tail"]:
            print(r["tail"][-1500:])
        good = r["shown"] == r["students"]
        ok &= good
        print(f"{'PASS' if good else 'FAIL'} server {r['server']}: shown = students: {r['shown']} of "
              f"{r['students']} (sent {r['sent']})")
        for bar, limit in BARS.items():
            good = r[bar] <= limit
            ok &= good
            print(f"{'PASS' if good else 'FAIL'} server {r['server']}: {bar} <= {limit:g}: {r[bar]:.2f} "
                  f"(max {r['show_max_s']:.2f})")
    print(f"  the projector on server 0; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for r in rows:
        print(f"BOARD server={r['server']} students={r['students']} shown={r['shown']} "
              f"show_p95_s={r['show_p95_s']:.2f} health_p99_s={r['health_p99_s']:.2f} "
              f"peak_pss_mb={r['peak_pss_mb']:.0f} map_placed_s=nan")
    return 0 if ok else 1
