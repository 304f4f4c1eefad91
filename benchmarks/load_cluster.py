"""Load on the cluster back end: `python benchmarks/load.py --servers 2 --ray --sessions 30`.

Starts one local Ray head (benchmarks/ray_head.py: 127.0.0.1, free ports, 2 CPUs), a shared store
(a temp folder) and S NetLens servers (benchmarks/server.py) with NETLENS_RAY_ADDRESS and
NETLENS_STORE (no warm-up: NETLENS_WARM=0, so every job is one the sessions asked for; no local
worker processes: NETLENS_WORKERS=0). N sessions, spread evenly over the servers (as a sticky load
balancer would), go at once through Home, Training (Train with the defaults: MLP 784-512-10,
MNIST-5k, 10 epochs, seed 0, until the model shows) and Representations (the default maps until
all are drawn), while a probe process per server polls `/_stcore/health` every 0.1 s.

Prints one line (bars: trainings=1, maps=3, errors=0, health_max_s <= 1.5):

    CLUSTER servers=2 sessions=30 trainings=<n> maps=<n> errors=<n> health_max_s=<x>

trainings: the cluster's jobs for the default MLP's job key (its ID and any retries); maps: the
cluster's map jobs; errors: session errors, error alerts and jobs that did not succeed (an
unanswered health probe shows as health_max_s=5.0, its timeout). The head runs at nice 10: on one
machine it stands in for the cluster's own machine. Everything it starts is stopped (the Ray head
by its own processes).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load_steps import Student  # noqa: E402
from benchmarks.ray_head import RayHead  # noqa: E402
from benchmarks.server import Server, read_probe, start_probe  # noqa: E402


def start_servers(n: int, logdir: Path, env: dict) -> list[Server]:
    """n servers started at once; RuntimeError (the others stopped) if one does not start."""
    out: list = [None] * n
    errors: list = []

    def start(i: int) -> None:
        try:
            out[i] = Server(logdir, env=env, unset=("NETLENS_PASSWORD", "NETLENS_MODELS_DIR"), start_timeout=180)
        except RuntimeError as e:
            errors.append(e)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for s in out:
            if s is not None:
                s.stop()
        raise errors[0]
    return out


async def journeys(servers: list[Server], n: int, timeout: float) -> list[Student]:
    """n sessions, round-robin over the servers, each through Home, Training and Representations."""
    log: list[str] = []
    students = [Student(servers[i % len(servers)].base, i + 1, log) for i in range(n)]

    async def one(s: Student) -> None:
        try:
            _ = await s.home(120) and await s.train(timeout) and await s.representations(timeout)
        except Exception as e:  # noqa: BLE001 - counted, not fatal
            s.error(f"{type(e).__name__}: {e}")

    try:
        await asyncio.wait_for(asyncio.gather(*(one(s) for s in students)), 3 * timeout)
    except asyncio.TimeoutError:
        log.append("the sessions ran past their time limit")
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    students[0].errors.extend(log)
    return students


def default_key(address: str, store_dir: Path) -> str:
    """The default MLP's job key, as the servers compute it (taken at their start: the code version is part of it)."""
    from analysis.cluster import ClusterConfig, RayExecutor
    from analysis.cluster_plans import train_plan
    from analysis.models import ModelConfig
    from analysis.store import Store
    from analysis.train import TrainConfig

    ex = RayExecutor(ClusterConfig(address=address), Store(str(store_dir)))
    return train_plan(ex, {"dataset": "mnist5k", "model_config": ModelConfig(), "train_config": TrainConfig()}).key


def cluster_counts(address: str, key: str) -> tuple[int, int, int]:
    """(trainings for the default MLP's key, map jobs, jobs that did not succeed) on the cluster."""
    from ray.job_submission import JobSubmissionClient

    jobs = JobSubmissionClient(address).list_jobs()
    ids = [str(j.submission_id) for j in jobs]
    trainings = sum(1 for i in ids if i == key or i.startswith(key + "-"))
    maps = sum(1 for i in ids if i.startswith("map-"))
    failed = sum(1 for j in jobs if str(j.status.value) != "SUCCEEDED")
    return trainings, maps, failed


def run(n_servers: int, n_sessions: int, timeout: float, keep_logs: bool) -> str:
    logdir = Path(tempfile.mkdtemp(prefix="netlens-cluster-"))
    store_dir = logdir / "store"
    t0 = time.monotonic()
    head = RayHead(num_cpus=2, nice=10)  # the cluster's jobs yield the cores to the app servers
    print(f"  Ray head at {head.address} in {head.start_s:.0f} s; starting {n_servers} servers…", flush=True)
    servers, probes = [], []
    try:
        env = {"NETLENS_RAY_ADDRESS": head.address, "NETLENS_STORE": str(store_dir), "NETLENS_WARM": "0",
               "NETLENS_WORKERS": "0"}
        servers = start_servers(n_servers, logdir, env)
        key = default_key(head.address, store_dir)
        probes = [start_probe(s, logdir, max_s=3 * timeout + 120) for s in servers]
        print(f"  {n_sessions} sessions: Home, Train, Representations…", flush=True)
        students = asyncio.run(journeys(servers, n_sessions, timeout))
        trainings, maps, failed = cluster_counts(head.address, key)
    finally:
        for proc, _ in probes:
            proc.terminate()
        for s in servers:
            s.stop()
        head.stop()
    health = [row for _, out in probes for row in read_probe(out)]
    errors = [f"session {s.index}: {e}" for s in students for e in s.errors + s.error_alerts]
    errors += [f"a job on the cluster did not succeed ({failed} in all)"] * failed
    for e in errors[:10]:
        print(f"  error: {e}", flush=True)
    health_max = max((lat for _, lat, _ in health), default=float("nan"))
    slow = sum(1 for _, lat, ok in health if lat > 1.5 or not ok)
    print(f"  health: {len(health)} probes, {slow} slower than 1.5 s or unanswered (5 s timeout); "
          f"p99 {sorted(lat for _, lat, _ in health)[int(0.99 * (len(health) - 1))] if health else float('nan'):.2f} s")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  {time.monotonic() - t0:.0f} s in all; load average {load}; logs {logdir if keep_logs else '(removed)'}")
    if not keep_logs:
        import shutil

        shutil.rmtree(logdir, ignore_errors=True)
    return (f"CLUSTER servers={n_servers} sessions={n_sessions} trainings={trainings} maps={maps} "
            f"errors={len(errors)} health_max_s={health_max:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description="Load on the cluster back end (see benchmarks/load_cluster.py).")
    ap.add_argument("--ray", action="store_true", required=True, help="the cluster back end (a local Ray head)")
    ap.add_argument("--servers", type=int, default=2, help="app servers sharing the head and the store")
    ap.add_argument("--sessions", type=int, default=30, help="sessions, spread evenly over the servers")
    ap.add_argument("--timeout", type=float, default=600, help="seconds each step may take")
    ap.add_argument("--keep-logs", action="store_true")
    args = ap.parse_args()
    if not 1 <= args.servers <= 8 or not 1 <= args.sessions <= 200:
        ap.error("--servers must be 1 to 8 and --sessions 1 to 200")
    line = run(args.servers, args.sessions, args.timeout, args.keep_logs)
    print(line, flush=True)
    ok = " trainings=1 " in line and " maps=3 " in line and " errors=0 " in line
    return 0 if ok and float(line.rsplit("=", 1)[1]) <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
