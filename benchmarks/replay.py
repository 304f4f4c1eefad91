"""Watch the layers learn (issue 16): aligned replay frames against independent t-SNE maps,
and what recording costs during training.

    python benchmarks/replay.py            # median of 3 (a quiet machine: a few minutes)
    python benchmarks/replay.py --quick    # one replay, fewer fit pairs, independent maps of the last 3 frames (~90 s)

Setup: the default MLP (784-512-10) on MNIST-5k, 10 epochs, seed 0, on the CPU, recorded
(1,000 stratified test digits: 11 frames). The layer replayed is the hidden layer.
- Aligned: analysis.replay.replay (the first frame a full t-SNE of 500 iterations, each later one warm-started
  from the previous map, 150 iterations, no exaggeration), with trustworthiness per frame.
- Independent: openTSNE.TSNE(random_state=0) with its defaults on each frame's features.
- Movement: the mean distance a point moves between consecutive frames, in units of the
  previous frame's spread, after aligning each frame onto the previous one by Procrustes
  with scaling (both kinds of maps), so rotation, reflection and zoom do not count.
- Recording cost: the same fit (build, record or not, train 10 epochs, the recording) without
  and with the recorder. Time: two threads, one fit each, taking turns epoch by epoch (one runs
  while the other waits; each timed only while it runs; who starts alternates), so load from
  other jobs on a shared machine falls on both fits alike; 5 such pairs (2 in --quick), each
  turn timed by its minimum over the pairs (load only adds time); overhead = recorded/plain
  wall time - 1, the threads' CPU time printed beside it, and the CPU time of the recorder's
  own calls over the plain fit's (a steady floor: no indirect costs).
  Memory (and the same overhead one fit after the other, printed): fits one after the other
  (3 pairs, ABBA; 1 in --quick; a 1-epoch fit of each first, not counted): the rise of the
  process's peak resident set (VmHWM, reset through /proc/self/clear_refs after malloc_trim
  before each fit), recorded minus plain (medians).

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
import threading
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
PAIRS, QUICK_PAIRS = 5, 2  # plain/recorded pairs of MLP fits taking turns, for the overhead


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
    """(wall seconds, CPU seconds, peak rise MB, recording or None) of one fit, recorded or not."""
    mc = default_config(kind)
    split = split_dataset(ds, seed=tc.seed)
    _reset_peak()
    base = _status_kb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    model = build_model(mc, ds.image_shape, ds.n_classes, seed=tc.seed)
    recorder = None
    if record:
        recorder = Recorder(ds, split, tc, RecordConfig())
        recorder.start(model)
    fit(ds, mc, tc, on_epoch=recorder.chain() if recorder else None, split=split, model=model)
    recording = recorder.result() if recorder else None
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, (_status_kb("VmHWM") - base) / 1024, recording


def record_cost(ds, kind, tc, pairs, warm_up=True):
    """(overhead %, extra peak MB, a recording): `pairs` pairs of the same fit, plain and recorded,
    one after the other in alternating order (ABBA); overhead and memory: medians. Warm-up: one
    1-epoch fit of each kind first, not counted."""
    if warm_up:
        for record in (False, True):
            _one_fit(ds, kind, TrainConfig(epochs=1, seed=tc.seed, device=tc.device), record)
    wall, peaks, recording = [], {False: [], True: []}, None
    for r in range(pairs):
        got = {}
        for record in ((False, True) if r % 2 == 0 else (True, False)):
            got[record] = _one_fit(ds, kind, tc, record)
            peaks[record].append(got[record][2])
            recording = got[record][3] or recording
            print(f"  fit {kind} recorded={record}: {got[record][0]:.2f} s (CPU {got[record][1]:.2f} s), "
                  f"peak rise {got[record][2]:.1f} MB, load {os.getloadavg()[0]:.2f}", flush=True)
        wall.append((got[True][0] / got[False][0] - 1) * 100)
    extra_mb = statistics.median(peaks[True]) - statistics.median(peaks[False])
    return statistics.median(wall), extra_mb, recording


class _Turns:
    """Two threads taking turns: one runs while the other waits, until it hands the turn over."""

    def __init__(self, first: int):
        self._cond, self._turn, self._done = threading.Condition(), first, [False, False]

    def wait(self, me: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._turn == me or self._done[1 - me])

    def hand_over(self, me: int, done: bool = False) -> None:
        with self._cond:
            self._turn, self._done[me] = 1 - me, self._done[me] or done
            self._cond.notify_all()


def _fit_in_turns(ds, kind, tc, me, turns, out):
    """Thread `me` (0 plain, 1 recorded): the same fit as _one_fit, one step per turn (setup and
    the first epoch, then one epoch, then the end): out[me] = [(wall s, thread CPU s) per turn]."""
    mc, split, spent, clock = default_config(kind), split_dataset(ds, seed=tc.seed), [], [0.0, 0.0]

    def resume():
        turns.wait(me)
        clock[:] = [time.perf_counter(), time.thread_time()]

    def pause(done=False):
        spent.append((time.perf_counter() - clock[0], time.thread_time() - clock[1]))
        turns.hand_over(me, done)

    own = [0.0]  # thread CPU seconds inside the recorder's own calls

    def recording(call, *args):
        begin = time.thread_time()
        answer = call(*args)
        own[0] += time.thread_time() - begin
        return answer

    def on_epoch(epoch, row):
        if recorder:
            recording(recorder.on_epoch, epoch, row)
        pause()
        resume()

    resume()
    try:
        model = build_model(mc, ds.image_shape, ds.n_classes, seed=tc.seed)
        recorder = recording(Recorder, ds, split, tc, RecordConfig()) if me else None
        if recorder:
            recording(recorder.start, model)
        fit(ds, mc, tc, on_epoch=on_epoch, split=split, model=model)
        if recorder:
            recording(recorder.result)
    finally:
        pause(done=True)
    out[me], out[f"own{me}"] = spent, own[0]


def turns_overhead(ds, kind, tc, pairs):
    """(wall %, CPU %, own %): the recording's overhead from `pairs` pairs of a plain and a recorded fit run
    in two threads that take turns epoch by epoch (who starts alternates), so load from other jobs
    falls on both fits alike. Each turn's time is its minimum over the pairs (load only ever adds
    time); overhead = the recorded turns' sum / the plain turns' sum - 1. own: the CPU time of the
    recorder's own calls (setup, captures, result) over the plain fit's (median over pairs; no
    indirect costs, but steady under load)."""
    runs = []
    for r in range(pairs):
        out, turns = {}, _Turns(first=r % 2)
        threads = [threading.Thread(target=_fit_in_turns, args=(ds, kind, tc, me, turns, out)) for me in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        runs.append(out)
        plain, rec = (np.sum(out[me], axis=0) for me in (0, 1))
        print(
            f"  fits {kind} taking turns: plain {plain[0]:.2f} s (CPU {plain[1]:.2f} s), recorded {rec[0]:.2f} s "
            f"(CPU {rec[1]:.2f} s): {(rec[0] / plain[0] - 1) * 100:+.1f}% (CPU {(rec[1] / plain[1] - 1) * 100:+.1f}%), "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    best = {me: np.min([run[me] for run in runs], axis=0).sum(axis=0) for me in (0, 1)}  # (wall, CPU)
    own = statistics.median(run["own1"] / np.sum(run[0], axis=0)[1] * 100 for run in runs)
    return float((best[1][0] / best[0][0] - 1) * 100), float((best[1][1] / best[0][1] - 1) * 100), own


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
    parser.add_argument("--quick", action="store_true", help="one replay, fewer fit pairs, 3 independent maps")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    pairs = QUICK_PAIRS if args.quick else PAIRS
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs, quick={args.quick}", flush=True)
    if not _reset_peak():
        print("note: /proc/self/clear_refs not writable: memory figures are upper bounds", flush=True)
    ds = load_dataset("mnist5k")
    tc = TrainConfig(epochs=10, seed=0, device="cpu")
    apart, mb_mlp, recording = record_cost(ds, "mlp", tc, 1 if args.quick else 3)
    overhead, overhead_cpu, own = turns_overhead(ds, "mlp", tc, pairs)
    print(f"  record overhead mlp: {overhead:.1f}% wall, {overhead_cpu:.1f}% CPU (taking turns, each turn's best of "
          f"{pairs}); {apart:.1f}% wall one fit after the other; the recorder's own calls: {own:.1f}% of the plain "
          "fit's CPU time", flush=True)
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
