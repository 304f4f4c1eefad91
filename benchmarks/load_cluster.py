"""Load on the cluster back end: `python benchmarks/load.py --servers 2 --ray --sessions 30`.

Starts one local Ray head (benchmarks/ray_head.py: 127.0.0.1, free ports, 2 CPUs), a shared store
(a temp folder) and S NetLens servers (benchmarks/server.py) with NETLENS_RAY_ADDRESS and
NETLENS_STORE (no warm-up: NETLENS_WARM=0, so every job is one the sessions asked for; no local
worker processes: NETLENS_WORKERS=0). N sessions, spread evenly over the servers (as a sticky load
balancer would), go at once through Home, Training (Train with the defaults: MLP 784-512-10,
MNIST-5k, 10 epochs, seed 0, until the model shows) and Representations (the default maps until
all are drawn), while a probe process per server polls `/_stcore/health` every 0.1 s.

With `--url` it starts nothing: the sessions go through a front end already running (e.g. nginx in front
of the app servers, as the README's "More than one machine" sets it up), the jobs are counted on the head
given by `--ray-address` (its token from NETLENS_RAY_TOKEN, as the app servers get it), and the probes poll
the `--probe` addresses (default: the front end). Start the app servers with NETLENS_WARM=0 and a fresh
store, or the warm-up's jobs and earlier results change the counts:

    python benchmarks/load.py --ray --servers 2 --sessions 30 --url http://127.0.0.1:8080 \
        --ray-address http://127.0.0.1:8265 --store /tmp/netlens-store \
        --probe http://127.0.0.1:8501 --probe http://127.0.0.1:8502

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
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load_steps import Student  # noqa: E402
from benchmarks.ray_head import RayHead  # noqa: E402
from benchmarks.server import Server, read_probe, start_probe  # noqa: E402


def start_servers(n: int, logdir: Path, env: dict, unset=("NETLENS_PASSWORD", "NETLENS_MODELS_DIR")) -> list[Server]:
    """n servers started at once (``unset``: settings of this environment they do not get); RuntimeError
    (the others stopped) if one does not start."""
    out: list = [None] * n
    errors: list = []

    def start(i: int) -> None:
        try:
            out[i] = Server(logdir, env=env, unset=unset, start_timeout=180)
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


async def journeys(bases: list[str], n: int, timeout: float) -> list[Student]:
    """n sessions, round-robin over the servers' (or one front end's) addresses, each through Home,
    Training and Representations."""
    log: list[str] = []
    students = [Student(bases[i % len(bases)], i + 1, log) for i in range(n)]

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
    from analysis.compute.cluster.executor import ClusterConfig, RayExecutor
    from analysis.compute.cluster.plans import train_plan
    from analysis.compute.store import Store
    from analysis.models import ModelConfig
    from analysis.train import TrainConfig

    ex = RayExecutor(ClusterConfig(address=address), Store(str(store_dir)))
    return train_plan(ex, {"dataset": "mnist5k", "model_config": ModelConfig(), "train_config": TrainConfig()}).key


def cluster_counts(address: str, key: str, since: float = 0.0) -> tuple[int, int, int]:
    """(trainings for the default MLP's key, map jobs, jobs that did not succeed) on the cluster, of
    the jobs submitted since `since` (a time.time())."""
    from analysis.compute.cluster.executor import prepare_ray_env

    headers = prepare_ray_env()  # the token, as the app servers send it (before ray is imported)
    from ray.job_submission import JobSubmissionClient

    jobs = [j for j in JobSubmissionClient(address, headers=headers or None).list_jobs()
            if (j.start_time or 0) >= since * 1000]
    ids = [str(j.submission_id) for j in jobs]
    trainings = sum(1 for i in ids if i == key or i.startswith(key + "-"))
    maps = sum(1 for i in ids if i.startswith("map-"))
    failed = sum(1 for j in jobs if str(j.status.value) != "SUCCEEDED")
    return trainings, maps, failed


def start_cluster(n_servers: int, logdir: Path) -> tuple[RayHead, list[Server]]:
    """One local Ray head and n app servers using it and a store under logdir."""
    head = RayHead(num_cpus=2, nice=10)  # the cluster's jobs yield the cores to the app servers
    print(f"  Ray head at {head.address} in {head.start_s:.0f} s; starting {n_servers} servers…", flush=True)
    env = {"NETLENS_RAY_ADDRESS": head.address, "NETLENS_STORE": str(logdir / "store"), "NETLENS_WARM": "0",
           "NETLENS_WORKERS": "0", "NETLENS_RAY_INSECURE": "1"}  # a head on 127.0.0.1 only, started here
    if not (os.environ.get("NETLENS_STORE_KEY_FILE") or os.environ.get("NETLENS_STORE_KEY")):
        key_file = (
            logdir / "store.key"
        )  # the store's signing key (analysis.compute.store_key): servers and head inherit it
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
        os.environ["NETLENS_STORE_KEY_FILE"] = env["NETLENS_STORE_KEY_FILE"] = str(key_file)
    try:
        return head, start_servers(n_servers, logdir, env)
    except BaseException:
        head.stop()
        raise


def run(n_servers: int, n_sessions: int, timeout: float, keep_logs: bool, front: dict | None = None) -> str:
    """The measurement; `front` ({url, ray_address, store, probes}): through a front end already running."""
    logdir = Path(tempfile.mkdtemp(prefix="netlens-cluster-"))
    t0, since = time.monotonic(), time.time()
    head, servers, probes = None, [], []
    try:
        if front:
            address, store_dir, bases = front["ray_address"], Path(front["store"] or logdir / "store"), [front["url"]]
            targets = [SimpleNamespace(base=u.rstrip("/"), port=i) for i, u in enumerate(front["probes"] or bases)]
        else:
            head, servers = start_cluster(n_servers, logdir)
            address, store_dir, bases, targets = head.address, logdir / "store", [s.base for s in servers], servers
        key = default_key(address, store_dir)
        probes = [start_probe(t, logdir, max_s=3 * timeout + 120) for t in targets]
        print(f"  {n_sessions} sessions through {', '.join(bases)}: Home, Train, Representations…", flush=True)
        students = asyncio.run(journeys(bases, n_sessions, timeout))
        trainings, maps, failed = cluster_counts(address, key, since)
    finally:
        for proc, _ in probes:
            proc.terminate()
        for s in servers:
            s.stop()
        if head is not None:
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
    ap.add_argument(
        "--ray", action="store_true", required=True, help="the cluster back end (a local Ray head, or --url)"
    )
    ap.add_argument("--servers", type=int, default=2, help="app servers sharing the head and the store")
    ap.add_argument("--sessions", type=int, default=30, help="sessions, spread evenly over the servers")
    ap.add_argument("--timeout", type=float, default=600, help="seconds each step may take")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--url", help="a front end already running (e.g. nginx): start nothing, go through it")
    ap.add_argument("--ray-address", help="with --url: the head the app servers use (NETLENS_RAY_ADDRESS)")
    ap.add_argument("--store", help="with --url: the app servers' NETLENS_STORE (default: a temp folder)")
    ap.add_argument("--probe", action="append", default=[], help="with --url: an address to poll for health "
                    "(repeat it; default: the front end)")
    args = ap.parse_args()
    if not 1 <= args.servers <= 8 or not 1 <= args.sessions <= 200:
        ap.error("--servers must be 1 to 8 and --sessions 1 to 200")
    if bool(args.url) != bool(args.ray_address):
        ap.error("--url and --ray-address go together (the front end, and the head its app servers use)")
    for u in [args.url, args.ray_address, *args.probe]:
        if u and not u.startswith(("http://", "https://")):
            ap.error(f"expected an http(s):// address; got {u!r}")
    front = {"url": args.url, "ray_address": args.ray_address.rstrip("/"), "store": args.store,
             "probes": args.probe} if args.url else None
    line = run(args.servers, args.sessions, args.timeout, args.keep_logs, front)
    print(line, flush=True)
    ok = " trainings=1 " in line and " maps=3 " in line and " errors=0 " in line
    return 0 if ok and float(line.rsplit("=", 1)[1]) <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
