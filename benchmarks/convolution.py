"""Time analysis.convolution.convolve against OpenCV and SciPy on a 12 MP RGB image.

    python benchmarks/convolution.py [--quick]

Prints `RATIO <case> opencv/ours=<x>` (above 1: ours is faster) and, for the big
kernels, `RATIO <case> best/ours=<x>` against the faster of OpenCV's filter2D and
SciPy's fftconvolve. Every run is interleaved (ours, peer, ours, peer, …) and the
median is compared, so a noisy machine slows both alike.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage, signal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from analysis.convolution import convolve  # noqa: E402
from analysis.kernels import box_kernel, gaussian_kernel, preset_kernel  # noqa: E402


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def interleaved(fns: dict, runs: int) -> dict[str, float]:
    times = {name: [] for name in fns}
    for name, fn in fns.items():  # warm-up
        fn()
    for _ in range(runs):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs, no SciPy peers on big kernels (< 60 s)")
    args = ap.parse_args(argv)
    runs = 7
    rng = np.random.default_rng(0)
    image = (rng.random((3000, 4000, 3)) * 255).astype(np.float32)  # 12 MP, the same array for everyone
    print(f"image {image.shape} float32, OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, median of {runs}")

    def opencv(k):
        return lambda: cv2.filter2D(image, cv2.CV_32F, k.astype(np.float32), borderType=cv2.BORDER_CONSTANT)

    small = {"box3": box_kernel(3), "edge3": preset_kernel("Horizontal edge")}
    for case, k in small.items():
        fns = {"ours": lambda k=k: convolve(image, k, "same"), "opencv": opencv(k)}
        if not args.quick:
            fns["scipy"] = lambda k=k: ndimage.correlate(image, k[:, :, None].astype(np.float32), mode="constant")
        t = interleaved(fns, runs)
        print(f"{case}: " + ", ".join(f"{n} {v * 1000:.0f} ms" for n, v in t.items()))
        print(f"RATIO {case} opencv/ours={t['opencv'] / t['ours']:.2f}")
        if "scipy" in t:
            print(f"RATIO {case} scipy/ours={t['scipy'] / t['ours']:.2f}")

    big = {"box15": box_kernel(15), "gauss15": gaussian_kernel(15), "box31": box_kernel(31),
           "gauss31": gaussian_kernel(31), "rand15": rng.standard_normal((15, 15))}
    for case, k in big.items():
        fns = {"ours": lambda k=k: convolve(image, k, "same"), "opencv": opencv(k)}
        t = interleaved(fns, 3 if args.quick else runs)
        if not args.quick or case == "rand15":
            flipped = k[::-1, ::-1, None].astype(np.float32)  # fftconvolve convolves: flip to correlate
            t["fft"] = statistics.median(timed(lambda: signal.fftconvolve(image, flipped, mode="same"))
                                         for _ in range(1 if args.quick else 3))
        print(f"{case}: " + ", ".join(f"{n} {v * 1000:.0f} ms" for n, v in t.items()))
        print(f"RATIO {case} opencv/ours={t['opencv'] / t['ours']:.2f}")
        if "fft" in t:
            print(f"RATIO {case} best/ours={min(t['opencv'], t['fft']) / t['ours']:.2f}")


if __name__ == "__main__":
    main()
