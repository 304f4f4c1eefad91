"""Trust page speed (issues 18 and 19), on the CPU, with the three default models (logistic
regression, MLP, CNN; default settings) trained on MNIST-5k's training digits.

    python benchmarks/trust.py            # models trained 10 epochs; medians over 20 test digits
    python benchmarks/trust.py --quick    # 1 epoch, 10 digits, one round of the tables (~1 minute)

Prints (machine-readable):
  TRUST explain_ms=<x> ratio_batched=<x>
    explain_ms: occlusion (4×4 patch, stride 2, baseline 0, all positions in one batch) plus
      Integrated Gradients (black baseline, 50 steps) for the predicted class of one digit, with
      the three models together; median over different test digits (bar: ≤ 300 ms, 2 cores).
    ratio_batched: Captum's Occlusion with its default perturbations_per_eval=1 over ours, same
      digits and models (median of the three models' total time each; bar: ≥ 3).
  TRUST_TABLES robustness_s=<x> calibration_s=<x>
    robustness_s: the accuracy table for the 1,000 test digits × 7 alterations × 3 models,
      alterations included (bar: ≤ 10 s).
    calibration_s: for the 3 models, from their logits on the validation and test digits (computed
      once per model and cached by the page; their time is printed on a '#' line): temperature fit,
      reliability before/after, referral curves and the cost threshold (bar: ≤ 0.5 s).
Lines starting with '#' are context (load average, threads, per-model times, accuracies).
Not a timed test: run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from analysis.calibration import calibration_report  # noqa: E402
from analysis.datasets import load_dataset, split_dataset  # noqa: E402
from analysis.explain import integrated_gradients, logits, occlusion_maps, output_change  # noqa: E402
from analysis.models import default_config  # noqa: E402
from analysis.robustness import robustness_table  # noqa: E402
from analysis.train import TrainConfig, fit  # noqa: E402

KINDS = ("logreg", "mlp", "cnn")


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"# load average {one:.2f} {five:.2f} {fifteen:.2f} (cores: {os.cpu_count()})"


def train_models(ds, split, epochs: int) -> dict:
    models = {}
    for kind in KINDS:
        start = time.perf_counter()
        trained = fit(ds, default_config(kind), TrainConfig(epochs=epochs, device="cpu"), split=split)
        models[kind] = trained.model
        print(f"# trained {kind}: {epochs} epochs in {time.perf_counter() - start:.1f} s, "
              f"test accuracy {trained.test_accuracy:.3f}", flush=True)
    return models


def ours(model, x) -> tuple[float, float]:
    """Seconds for our batched occlusion and for Integrated Gradients, predicted class."""
    start = time.perf_counter()
    target = int(logits(model, x[None])[0].argmax())
    occlusion_maps(model, x)[target]
    mid = time.perf_counter()
    integrated_gradients(model, x, target)
    return mid - start, time.perf_counter() - mid


def captum_unbatched(model, x) -> float:
    from captum.attr import Occlusion

    start = time.perf_counter()
    target = int(logits(model, x[None])[0].argmax())
    with torch.no_grad():
        Occlusion(model).attribute(torch.from_numpy(np.array(x))[None, None], sliding_window_shapes=(1, 4, 4),
                                   strides=(1, 2, 2), baselines=0.0, target=target)
    return time.perf_counter() - start


def bench_explain(models, images) -> None:
    for model in models.values():  # warm-up, not counted
        ours(model, images[-1])
        captum_unbatched(model, images[-1])
    totals, occ_totals, captum_totals = [], [], []
    per_model = {k: {"occlusion": [], "ig": [], "captum": []} for k in models}
    for x in images[:-1]:  # different digits
        total = occ_total = captum_total = 0.0
        for kind, model in models.items():
            occ, ig = ours(model, x)
            cap = captum_unbatched(model, x)
            total, occ_total, captum_total = total + occ + ig, occ_total + occ, captum_total + cap
            for name, value in (("occlusion", occ), ("ig", ig), ("captum", cap)):
                per_model[kind][name].append(value)
        totals.append(total)
        occ_totals.append(occ_total)
        captum_totals.append(captum_total)
    for kind, times in per_model.items():
        print(f"# {kind}: occlusion {1000 * statistics.median(times['occlusion']):.1f} ms, "
              f"IG {1000 * statistics.median(times['ig']):.1f} ms, "
              f"Captum occlusion unbatched {1000 * statistics.median(times['captum']):.1f} ms (medians)")
    gaps = []
    for model in models.values():  # completeness, as a check that the timed maps are right
        for x in images[:3]:
            target = int(logits(model, x[None])[0].argmax())
            change = output_change(model, x, target)
            gaps.append(abs(integrated_gradients(model, x, target).sum(dtype=np.float64) - change) / abs(change))
    print(f"# IG completeness: largest relative gap {max(gaps):.4f} (bar in the tests: 0.01)")
    ratio = statistics.median(captum_totals) / statistics.median(occ_totals)
    print(f"TRUST explain_ms={1000 * statistics.median(totals):.1f} ratio_batched={ratio:.2f}", flush=True)


def bench_tables(models, ds, split, rounds: int) -> None:
    x_test, y_test = ds.images[split.test], ds.labels[split.test]
    x_val, y_val = ds.images[split.val], ds.labels[split.val]
    robustness, calibration, inference = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        table = robustness_table(models, x_test, y_test)
        robustness.append(time.perf_counter() - start)
        start = time.perf_counter()
        outputs = [(logits(m, x_val), logits(m, x_test)) for m in models.values()]
        inference.append(time.perf_counter() - start)
        start = time.perf_counter()
        reports = [calibration_report(z_val, y_val, z_test, y_test, 5.0, 1.0) for z_val, z_test in outputs]
        calibration.append(time.perf_counter() - start)
    for row in table.rows():
        if row["alteration"] == "Original" or row["model"] == "cnn":
            print(f"# accuracy {row['model']} {row['alteration']}: {row['accuracy']:.3f}")
    for kind, r in zip(models, reports):
        print(f"# calibration {kind}: T={r.temperature:.2f} ECE {r.before.ece:.3f} -> {r.after.ece:.3f}, "
              f"NLL {r.nll_before:.3f} -> {r.nll_after:.3f}, threshold {r.threshold:.2f} (test: "
              f"{r.test_point.share_referred:.1%} referred, {r.test_point.accuracy_automatic:.1%} right)")
    print(f"# {len(y_test)} test digits, {len(y_val)} validation digits, {rounds} round(s), medians; the models' "
          f"logits for them (computed once per model and cached by the page, not in calibration_s): "
          f"{statistics.median(inference):.3f} s")
    print(f"TRUST_TABLES robustness_s={statistics.median(robustness):.2f} "
          f"calibration_s={statistics.median(calibration):.3f}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch, 10 digits, one round (shared machines)")
    parser.add_argument("--epochs", type=int, help="training epochs per model (default 10, quick 1)")
    parser.add_argument("--digits", type=int, help="test digits for explain_ms (default 20, quick 10)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch CPU threads while timing (default: all cores)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 10)
    n_digits = args.digits or (10 if args.quick else 20)
    print(load_line(), flush=True)
    ds = load_dataset("mnist5k")
    split = split_dataset(ds, seed=0)
    models = train_models(ds, split, epochs)
    torch.set_num_threads(args.threads)  # training sets it to half the cores
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; {n_digits} digits", flush=True)
    bench_explain(models, ds.images[split.test[:n_digits + 1]])
    bench_tables(models, ds, split, 1 if args.quick else 3)
    print(load_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
