"""Training speed: one epoch of NetLens's loop (data resident on the device, index slicing,
a CUDA graph for the whole step on CUDA) against the textbook
DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True, num_workers=0) loop, with the
same model, optimizer settings and data. Median of interleaved epochs.

    python benchmarks/training.py            # CPU: logreg, mlp, cnn on 4,000 MNIST digits;
                                             # CUDA (if any): the MLP on a 60,000-image epoch
    python benchmarks/training.py --quick    # fewer rounds, under a minute
    python benchmarks/training.py --accuracy # also the accuracy bars (MNIST-5k, seed 0, 10 epochs)
    python benchmarks/training.py --sweep    # only the sweep (issue 17): a 3×3 sweep through a job registry
    python benchmarks/training.py --sweep --quick   # the same sweep with 2 epochs per run

Prints `RATIO <model>-<device> dataloader/ours=<x>` (above 1: ours is faster).
--sweep: the default MLP on MNIST-5k, learning rate 0.0003/0.001/0.003 × seeds 0/1/2 (9 runs), submitted
to one JobRegistry with the app's CPU worker count (2), timed from the first submission to the last result;
then every run again, alone, in a fresh registry (no shared result can answer it), and the largest
difference between the two in any epoch's validation accuracy. Prints
`SWEEP runs=9 seconds=<x> max_abs_diff_vs_alone=<x>` (bars: seconds <= 180 on 2 cores, diff = 0).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from analysis.datasets import load_dataset, mnist_dir, split_dataset  # noqa: E402
from analysis.models import build_model, default_config  # noqa: E402
from analysis.train import EpochRunner, TrainConfig, cpu_threads_per_job, fit, make_optimizer  # noqa: E402

BATCH = 64


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def dataloader_epoch(model, optimizer, loader, device):
    """The textbook loop, keeping the same running metrics as ours."""
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    model.train()
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(yb)
        correct += (logits.argmax(1) == yb).sum()
    return loss_sum.item() / len(loader.dataset), correct.item() / len(loader.dataset)


def bench(kind, device, X, y, image_shape, rounds):
    """Median seconds per epoch (ours, dataloader) over `rounds` interleaved epochs."""
    ours_model = build_model(default_config(kind), image_shape, 10, seed=0).to(device)
    dl_model = copy.deepcopy(ours_model)
    ours_opt = make_optimizer(ours_model, TrainConfig(), device)           # Adam, lr 1e-3 (capturable on CUDA)
    dl_opt = torch.optim.Adam(dl_model.parameters(), lr=TrainConfig.lr)    # Adam, lr 1e-3, PyTorch's defaults
    start = time.perf_counter()
    runner = EpochRunner(ours_model, ours_opt, X.to(device), y.to(device), BATCH, use_graph=device.type == "cuda")
    _sync(device)
    setup = time.perf_counter() - start
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True, num_workers=0)
    gen = torch.Generator().manual_seed(0)

    def ours():
        ours_model.train()
        return runner.run(torch.randperm(len(y), generator=gen).to(device))

    def dataloader():
        return dataloader_epoch(dl_model, dl_opt, loader, device)

    times = {"ours": [], "dataloader": []}
    for r in range(rounds + 1):  # round 0 warms up
        pair = [("ours", ours), ("dataloader", dataloader)]
        for name, fn in pair if r % 2 else pair[::-1]:
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            if r:
                times[name].append(time.perf_counter() - t0)
    return statistics.median(times["ours"]), statistics.median(times["dataloader"]), setup


def report(kind, device, X, y, image_shape, rounds):
    ours, dl, setup = bench(kind, device, X, y, image_shape, rounds)
    tag = f"{kind}-{device.type}"
    extra = f" (graph capture {setup * 1000:.0f} ms, once)" if device.type == "cuda" else ""
    print(f"TIME {tag} n={len(y)} ours={ours * 1000:.1f}ms dataloader={dl * 1000:.1f}ms{extra}", flush=True)
    print(f"RATIO {tag} dataloader/ours={dl / ours:.2f}", flush=True)


def accuracy_bars():
    from sklearn.linear_model import LogisticRegression

    ds = load_dataset("mnist5k")
    split = split_dataset(ds, seed=0)
    X = ds.images.reshape(len(ds), -1)
    sk = LogisticRegression(max_iter=1000).fit(X[split.train], ds.labels[split.train])
    print(f"ACCURACY sklearn-logreg test={sk.score(X[split.test], ds.labels[split.test]):.4f}", flush=True)
    for kind in ("logreg", "mlp", "cnn"):
        t = fit(ds, default_config(kind), TrainConfig(seed=0, epochs=10, device="cpu"))
        again = fit(ds, default_config(kind), TrainConfig(seed=0, epochs=10, device="cpu"))
        same = t.history.rows[-1]["train_loss"] == again.history.rows[-1]["train_loss"] and \
            t.test_accuracy == again.test_accuracy
        print(f"ACCURACY {kind} test={t.test_accuracy:.4f} val={t.val_accuracy:.4f} "
              f"train_seconds={t.seconds:.1f} repeatable={same}", flush=True)


def _sweep_fit(ds, mc, tc):
    return lambda job: fit(ds, mc, tc, on_epoch=lambda epoch, row: not job.should_stop())


def _run_in_registry(ds, runs, workers):
    """Every run submitted to one fresh JobRegistry; (results in order, seconds to the last one)."""
    from analysis.compute.jobs import JobRegistry
    from analysis.train import job_key

    registry = JobRegistry(max_workers=workers, max_entries=32)
    try:
        start = time.perf_counter()
        jobs = [registry.submit(job_key(ds, mc, tc), f"run {i}", _sweep_fit(ds, mc, tc), "bench")
                for i, (mc, tc) in enumerate(runs)]
        for job in jobs:
            job.wait()
        seconds = time.perf_counter() - start
        failed = [j.error for j in jobs if j.status != "done"]
        if failed:
            raise RuntimeError(f"sweep runs failed: {failed}")
        return [j.result for j in jobs], seconds
    finally:
        registry.shutdown()


def sweep_benchmark(quick: bool) -> None:
    import os

    from analysis.sweep import SweepConfig, summarise

    ds = load_dataset("mnist5k")
    sweep = SweepConfig(settings={"lr": (3e-4, 1e-3, 3e-3)}, seeds=(0, 1, 2),
                        train=TrainConfig(epochs=2 if quick else 10, device="cpu"))
    runs = sweep.expand()
    workers = 2  # the app's CPU training workers (dashboard/training.py)
    print(f"load average {os.getloadavg()}; {len(runs)} runs of {runs[0][1].epochs} epochs, {workers} workers, "
          f"{cpu_threads_per_job()} thread(s) per run", flush=True)
    results, seconds = _run_in_registry(ds, runs, workers)
    diffs = []
    for (mc, tc), together in zip(runs, results):
        (alone,), _ = _run_in_registry(ds, [(mc, tc)], 1)
        diffs.extend(abs(a["val_accuracy"] - b["val_accuracy"]) for a, b in zip(together.history.rows,
                                                                               alone.history.rows))
        diffs.append(float(len(together.history.rows) != len(alone.history.rows)))
    summary = summarise(sweep, results)
    for s in summary.settings:
        print(f"  lr={s.values[0]:g}: validation {s.val_mean:.4f} ± {s.val_std:.4f} over {s.n_runs} seeds", flush=True)
    print(f"  best by validation: lr={summary.best.values[0]:g}", flush=True)
    print(f"SWEEP runs={len(runs)} seconds={seconds:.1f} max_abs_diff_vs_alone={max(diffs):g}", flush=True)
    print(f"load average {os.getloadavg()}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 9 (under a minute)")
    parser.add_argument("--accuracy", action="store_true", help="also train the three models for the accuracy bars")
    parser.add_argument("--sweep", action="store_true", help="only the 3×3 sweep benchmark (issue 17)")
    args = parser.parse_args(argv)
    if args.sweep:
        sweep_benchmark(args.quick)
        return
    rounds = 3 if args.quick else 9
    torch.set_num_threads(cpu_threads_per_job())  # as the app does for one job
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), batch {BATCH}, Adam lr 1e-3", flush=True
    )

    ds = load_dataset("mnist5k")
    split = split_dataset(ds, seed=0)
    idx = np.concatenate([split.train, split.val])  # the 4,000 non-test digits
    X = torch.from_numpy(ds.images[idx]).unsqueeze(1)
    y = torch.from_numpy(ds.labels[idx])
    cpu = torch.device("cpu")
    for kind in ("logreg", "mlp", "cnn"):
        report(kind, cpu, X, y, ds.image_shape, rounds)

    if torch.cuda.is_available():
        cuda = torch.device("cuda")
        print(f"GPU: {torch.cuda.get_device_name()}", flush=True)
        if mnist_dir() is not None:
            full = load_dataset("mnist")
            Xg = torch.from_numpy(full.images[:60_000]).unsqueeze(1)
            yg = torch.from_numpy(full.labels[:60_000])
        else:  # tile the 5k digits to a 60,000-image epoch
            Xg = torch.from_numpy(np.tile(ds.images, (12, 1, 1))).unsqueeze(1)
            yg = torch.from_numpy(np.tile(ds.labels, 12))
        report("mlp", cuda, Xg, yg, ds.image_shape, rounds)
    else:
        print("no CUDA GPU: skipped the 60,000-image GPU epoch", flush=True)

    if args.accuracy:
        accuracy_bars()


if __name__ == "__main__":
    main()
