"""The cluster back end's two speed bars, on a real local Ray head (benchmarks/ray_head.py), that
tests/test_cluster.py once asserted:

- REUSE: a restarted app server (a new `RayExecutor`, the same store) gets a finished training's
  result from the store, with no new Ray job, in under 10 s;
- RELAY: each epoch's progress (curves and a weights snapshot) reaches a watching app server within
  2 s of the job printing it (the README's "within 2 s"): the largest delay over `--epochs` epochs.

    python benchmarks/cluster_watch.py              # about 2 minutes (the head takes ~15 s to start)

Prints `REUSE seconds=…`, `RELAY epochs=… max_delay_s=… delays=…` and PASS/FAIL per bar.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.compute.cluster.executor import ClusterConfig, RayExecutor  # noqa: E402
from analysis.compute.store import Store  # noqa: E402
from analysis.models import ModelConfig  # noqa: E402
from analysis.train import TrainConfig  # noqa: E402
from benchmarks.ray_head import RayHead  # noqa: E402

REUSE_BAR_S = 10.0
RELAY_BAR_S = 2.0
SMALL = {"dataset": "digits", "model_config": ModelConfig(hidden=(16,)), "train_config": TrainConfig(epochs=3, seed=2)}
# The training tests/test_cluster.py stops: three wide layers, 50 epochs, far longer than the watch.
LONG = {"dataset": "mnist5k", "model_config": ModelConfig(hidden=(1024, 1024, 1024)),
        "train_config": TrainConfig(epochs=50, seed=3)}


def executor(head: RayHead, store: Path) -> RayExecutor:
    return RayExecutor(ClusterConfig(address=head.address, lease_s=30.0), Store(str(store)))


def reuse_seconds(head: RayHead, store: Path) -> tuple[float, bool]:
    """(seconds a restarted server takes to get a finished result, whether it submitted no job)."""
    executor(head, store).run("train", dict(SMALL))
    restarted = executor(head, store)
    t0 = time.monotonic()
    restarted.run("train", dict(SMALL))
    return time.monotonic() - t0, restarted.submitted == []


def relay_delays(head: RayHead, store: Path, epochs: int, timeout: float = 600) -> list[float]:
    """Seconds from the job printing each epoch's progress to the watcher hearing it (first `epochs` epochs)."""
    delays: list[float] = []
    enough = threading.Event()

    def report(p, m, latest=None):
        if m and m.startswith("epoch") and latest is not None and latest.get("sent") is not None:
            delays.append(time.time() - latest["sent"])
            if len(delays) >= epochs:
                enough.set()
    ex = executor(head, store)
    t = threading.Thread(target=lambda: ex.run("train", dict(LONG), report, enough.is_set), daemon=True)
    t.start()
    enough.wait(timeout)
    enough.set()  # Stop, whatever happened
    t.join(60)
    return delays


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=5, help="epochs of the long training to watch (default 5)")
    args = ap.parse_args(argv)
    head = RayHead(num_cpus=2)
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, no_job = reuse_seconds(head, Path(tmp) / "reuse")
            good = seconds < REUSE_BAR_S and no_job
            ok &= good
            print(f"REUSE seconds={seconds:.2f} new_jobs={0 if no_job else 'some'}")
            print(f"{'PASS' if good else 'FAIL'} a restarted server reuses the stored result (bar: under "
                  f"{REUSE_BAR_S:g} s, no new job)")
            delays = relay_delays(head, Path(tmp) / "relay", args.epochs)
            worst = max(delays) if delays else float("inf")
            good = len(delays) >= args.epochs and worst <= RELAY_BAR_S
            ok &= good
            print(f"RELAY epochs={len(delays)} max_delay_s={worst:.2f} delays={[round(d, 2) for d in delays]}")
            print(f"{'PASS' if good else 'FAIL'} each epoch reaches the watcher (bar: within {RELAY_BAR_S:g} s)")
    finally:
        head.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
