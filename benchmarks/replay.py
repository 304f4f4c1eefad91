"""Watch the layers learn (issue 16): aligned replay frames against independent t-SNE maps,
and what recording costs during training.

    python benchmarks/replay.py            # median of 3 (a quiet machine: a few minutes)
    python benchmarks/replay.py --quick    # one repeat, independent maps of the last 3 frames only (< 90 s)

Setup: the default MLP (784-512-10) on MNIST-5k, 10 epochs, seed 0, on the CPU, recorded
(1,000 stratified test digits: 11 frames). The layer replayed is the hidden layer.
- Aligned: analysis.replay.replay (the first frame a full t-SNE of 500 iterations, each later one warm-started
  from the previous map, 150 iterations, no exaggeration), with trustworthiness per frame.
- Independent: openTSNE.TSNE(random_state=0) with its defaults on each frame's features.
- Movement: the mean distance a point moves between consecutive frames, in units of the
  previous frame's spread, after aligning each frame onto the previous one by Procrustes
  with scaling (both kinds of maps), so rotation, reflection and zoom do not count.
- Recording cost: fit with and without the recorder, interleaved (time: median; the first
  fit warms up and is not counted); memory: the rise of the process's peak resident set
  (VmHWM, reset through /proc/self/clear_refs after malloc_trim before each fit), recorded minus plain.

Prints `RATIO replay independent/aligned_movement=<x>` (bar >= 5),
`RATIO replay independent/aligned_seconds=<x>` (bar >= 2) and
`REPLAY frames=.. points=.. seconds=.. first_frame_s=.. trust_min_margin=.. record_overhead_pct=..
record_mb_mlp=.. record_mb_cnn=..` (bars: seconds <= 45, first frame <= 5 s, trust_min_margin >= -0.01,
record_overhead_pct <= 15, record_mb_mlp <= 25). In --quick the seconds ratio extrapolates the
independent maps' mean time per frame to all frames, and movement and trust use the last 3 frames.
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

from analysis.datasets import load_dataset, split_dataset  # noqa: E402
from analysis.embedding import trustworthiness  # noqa: E402
from analysis.models import build_model, default_config  # noqa: E402
from analysis.recording import RecordConfig, Recorder  # noqa: E402
from analysis.replay import ReplayConfig, movement, replay  # noqa: E402
from analysis.train import TrainConfig, fit  # noqa: E402

QUICK_FRAMES = 3  # --quick: independent maps of the last frames only


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _trim() -> None:
    """Collect garbage and hand free heap back to the OS, so the resident set is the live data
    (otherwise a later allocation can reuse freed heap without raising the peak)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    _trim()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _one_fit(ds, kind, tc, record):
    """(seconds, peak rise MB, recording or None) of one fit, recorded or not."""
    mc = default_config(kind)
    split = split_dataset(ds, seed=tc.seed)
    _reset_peak()
    base = _status_kb("VmRSS")
    start = time.perf_counter()
    model = build_model(mc, ds.image_shape, ds.n_classes, seed=tc.seed)
    recorder = None
    if record:
        recorder = Recorder(ds, split, tc, RecordConfig())
        recorder.start(model)
    fit(ds, mc, tc, on_epoch=recorder.chain() if recorder else None, split=split, model=model)
    recording = recorder.result() if recorder else None
    seconds = time.perf_counter() - start
    return seconds, (_status_kb("VmHWM") - base) / 1024, recording


def record_cost(ds, kind, tc, repeats):
    """(overhead %, extra peak MB, a recording): plain and recorded fits, interleaved."""
    _one_fit(ds, kind, TrainConfig(epochs=1, seed=tc.seed, device=tc.device), True)  # warm-up
    times, peaks, recording = {False: [], True: []}, {False: [], True: []}, None
    for r in range(repeats):
        for record in ((False, True) if r % 2 == 0 else (True, False)):
            seconds, peak, rec = _one_fit(ds, kind, tc, record)
            times[record].append(seconds)
            peaks[record].append(peak)
            recording = rec or recording
            print(f"  fit {kind} recorded={record}: {seconds:.2f} s, peak rise {peak:.1f} MB", flush=True)
    overhead = (statistics.median(times[True]) / statistics.median(times[False]) - 1) * 100
    extra_mb = statistics.median(peaks[True]) - statistics.median(peaks[False])
    return overhead, extra_mb, recording


def independent_maps(recording, layer, frames):
    from openTSNE import TSNE

    maps, seconds = {}, []
    for f in frames:
        x = recording.features(layer, f).astype(np.float64)
        start = time.perf_counter()
        maps[f] = np.asarray(TSNE(random_state=0).fit(x), dtype=np.float32)
        seconds.append(time.perf_counter() - start)
        print(f"  independent frame {f}: {seconds[-1]:.2f} s", flush=True)
    return maps, seconds


def mean_movement(maps: list[np.ndarray]) -> float:
    return float(np.mean([movement(a, b) for a, b in zip(maps, maps[1:])]))


def compare(recording, layer, quick):
    """Aligned replay against independent maps: a dict of the figures."""
    start = time.perf_counter()
    aligned = replay(recording, layer, ReplayConfig())
    total = time.perf_counter() - start
    print(f"  aligned: {total:.2f} s, per frame {[round(s, 2) for s in aligned.seconds]}", flush=True)
    n = recording.n_frames
    frames = list(range(n - QUICK_FRAMES, n)) if quick else list(range(n))
    maps, seconds = independent_maps(recording, layer, frames)
    trust_ind = [trustworthiness(recording.features(layer, f), maps[f], k=10) for f in frames]
    margin = min(aligned.trust[f] - t for f, t in zip(frames, trust_ind))
    move_ind = mean_movement([maps[f] for f in frames])
    move_al = mean_movement([aligned.coords[f] for f in frames])
    return dict(total=total, first=aligned.seconds[0], margin=margin, move_ratio=move_ind / move_al,
                seconds_ratio=float(np.mean(seconds)) * n / sum(aligned.seconds), move_ind=move_ind,
                move_al=move_al)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat, 3 independent maps (under 90 s)")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs, quick={args.quick}", flush=True)
    if not _reset_peak():
        print("note: /proc/self/clear_refs not writable: memory figures are upper bounds", flush=True)
    ds = load_dataset("mnist5k")
    tc = TrainConfig(epochs=10, seed=0, device="cpu")
    overhead, mb_mlp, recording = record_cost(ds, "mlp", tc, repeats)
    cnn_tc = TrainConfig(epochs=2 if args.quick else 10, seed=0, device="cpu")
    _, mb_cnn, cnn_recording = record_cost(ds, "cnn", cnn_tc, 1)
    per_frame = sum(a.nbytes for a in cnn_recording.layers.values()) / cnn_recording.n_frames
    cnn_kept = (cnn_recording.nbytes + per_frame * (11 - cnn_recording.n_frames)) / 1e6  # as if 11 frames
    print(f"  recordings kept: mlp {recording.nbytes / 1e6:.2f} MB, cnn {cnn_kept:.2f} MB (11 frames)", flush=True)
    layer = recording.layer_names[1]
    runs = [compare(recording, layer, args.quick) for _ in range(repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"  movement: independent {med['move_ind']:.4f}, aligned {med['move_al']:.4f} (of the spread)", flush=True)
    print(f"RATIO replay independent/aligned_movement={med['move_ratio']:.2f}", flush=True)
    print(f"RATIO replay independent/aligned_seconds={med['seconds_ratio']:.2f}", flush=True)
    print(f"REPLAY frames={recording.n_frames} points={recording.n_points} seconds={med['total']:.2f} "
          f"first_frame_s={med['first']:.2f} trust_min_margin={med['margin']:.4f} "
          f"record_overhead_pct={overhead:.1f} record_mb_mlp={mb_mlp:.1f} record_mb_cnn={mb_cnn:.1f}", flush=True)
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
