"""Replays of a recording: one layer's map, frame by frame over training, every
frame aligned with the one before so points only move where the layer changed.

- t-SNE: the first frame is a full t-SNE (``analysis.embedding.tsne``); every later
  frame starts from the previous map and is optimised ~150 iterations on this epoch's
  affinities without early exaggeration (openTSNE ``TSNEEmbedding(previous_map,
  affinities).optimize(150, exaggeration=None)``), so it keeps the previous layout. Where the
  layer itself reorganised since the frame before (its digits keep fewer than 85% of their 10
  nearest neighbours: the first epochs after the random start), 75 iterations at a gentle
  exaggeration of 2 come first, so the map can follow. Measured on the default MLP's hidden layer
  (benchmarks/replay.py): the worst frame's trustworthiness went from 0.009–0.013 below an
  independent map's to 0.005 below, points still moving 5.3–5.5× less between frames than in
  independent maps (5.6–6.0× without it; the bars are 0.01 and 5×).
- PCA: each frame's first two principal components, rotated (and reflected) onto the
  previous frame by orthogonal Procrustes.
- ``on_progress(frame, total, coords_so_far)`` after every frame; returning False stops,
  and the frames so far come back as a complete result marked "stopped at frame k".
- The numbers beside the picture: trustworthiness of every frame, and
  ``knn_over_training``: k-NN accuracy of every layer per recorded epoch.

No Streamlit here.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass

import numpy as np

from analysis.embedding import knn_accuracy, max_perplexity, pca, trustworthiness, tsne
from analysis.recording import Recording, replay_unavailable

__all__ = [
    "ReplayConfig",
    "ReplayResult",
    "procrustes",
    "movement",
    "warm_tsne",
    "neighbour_overlap",
    "replay",
    "replay_key",
    "knn_over_training",
    "frames_csv",
    "METHODS",
]

METHODS = {"tsne": "t-SNE: neighbours stay neighbours; each frame starts from the previous map.",
           "pca": "PCA: the two directions of largest spread; each frame turned to match the previous one."}

# openTSNE settings for the warm-started frames (as analysis.embedding's CPU back end:
# FFT gradients on a coarser grid, learning rate n, momentum 0.8, bounded steps).
WARM_PARAMS = dict(negative_gradient_method="fft", ints_in_interval=2.0, min_num_intervals=20,
                   n_interpolation_points=3, learning_rate="auto", max_step_norm=5.0)
WARM_MOMENTUM = 0.8
REORGANISED = 0.85  # a layer whose digits keep fewer than this share of their 10 nearest neighbours reorganised
REORGANISE_STEPS = dict(n_iter=75, exaggeration=2.0)  # then: first these, so the previous layout can follow


@dataclass(frozen=True)
class ReplayConfig:
    method: str = "tsne"       # 'tsne' | 'pca'
    perplexity: float = 30.0   # t-SNE
    first_iter: int = 500      # t-SNE: iterations of the first (full) map (750 gave the same trust, 1.5x the time)
    step_iter: int = 150       # t-SNE: iterations of every later, warm-started map
    seed: int = 0              # t-SNE: the same seed gives the same frames
    n_jobs: int = 1            # t-SNE: openTSNE threads for the later frames
    trust_k: int = 10          # neighbours for trustworthiness


def check_replay_config(config: ReplayConfig) -> None:
    if config.method not in METHODS:
        raise ValueError(f"Unknown method {config.method!r}: expected one of {', '.join(METHODS)}.")
    for name, value, low, high in (("first_iter", config.first_iter, 50, 5000),
                                   ("step_iter", config.step_iter, 1, 2000),
                                   ("n_jobs", config.n_jobs, 1, 64), ("trust_k", config.trust_k, 1, 100)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ValueError(f"Expected ReplayConfig.{name} from {low} to {high}; got {value!r}.")
    if isinstance(config.seed, bool) or not isinstance(config.seed, (int, np.integer)) or not 0 <= config.seed < 2**32:
        raise ValueError(f"Expected ReplayConfig.seed from 0 to {2**32 - 1}; got {config.seed!r}.")


@dataclass(frozen=True, eq=False)
class ReplayResult:
    layer: str
    method: str                      # 'tsne' | 'pca'
    epochs: tuple[int, ...]          # the epoch of every frame computed
    coords: np.ndarray               # (frames, n, 2) float32, every frame aligned with the one before
    trust: tuple[float, ...]         # trustworthiness of every frame (its map against its features)
    seconds: tuple[float, ...]       # time to compute every frame (map only)
    total_frames: int                # frames in the recording
    stopped_at: int | None = None    # k when stopped after k frames; None when complete

    @property
    def n_frames(self) -> int:
        return len(self.epochs)

    @property
    def complete(self) -> bool:
        return self.stopped_at is None

    @property
    def status(self) -> str:
        if self.stopped_at is None:
            return f"all {self.total_frames} frames"
        return f"stopped at frame {self.stopped_at} of {self.total_frames}"

    def extent(self, margin: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x_min, x_max), (y_min, y_max)) over every frame, widened by `margin`: one set of axes for all."""
        lo, hi = self.coords.reshape(-1, 2).min(0), self.coords.reshape(-1, 2).max(0)
        pad = (hi - lo) * margin + 1e-9
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def procrustes(source, target, scaling: bool = False) -> np.ndarray:
    """`source` (n, k) moved onto `target` (n, k): translated, rotated or reflected (an orthogonal
    map), and with `scaling` also uniformly scaled, to minimise the summed squared distances."""
    a, b = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or len(a) < 2:
        raise ValueError(f"Expected two arrays of the same shape (n >= 2 points, k values); got {a.shape} "
                         f"and {b.shape}. Pass the same points in the same order.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("Expected finite coordinates; got NaN or infinity. Check the maps.")
    mu_a, mu_b = a.mean(0), b.mean(0)
    a0, b0 = a - mu_a, b - mu_b
    u, sigma, vt = np.linalg.svd(a0.T @ b0)
    rotation = u @ vt
    scale = 1.0
    if scaling:
        norm = float((a0 ** 2).sum())
        scale = float(sigma.sum()) / norm if norm > 0 else 1.0
    return scale * a0 @ rotation + mu_b


def _spread(coords: np.ndarray) -> float:
    c = np.asarray(coords, dtype=np.float64)
    return float(np.sqrt(((c - c.mean(0)) ** 2).sum(1).mean()))


def movement(previous, current, align: bool = True) -> float:
    """Mean distance a point moves from `previous` to `current`, in units of the previous map's
    spread (root-mean-square distance from its centre). With `align`, `current` is first
    Procrustes-aligned with scaling onto `previous`, so rotation, reflection and zoom do not count."""
    prev = np.asarray(previous, dtype=np.float64)
    cur = procrustes(current, prev, scaling=True) if align else np.asarray(current, dtype=np.float64)
    spread = _spread(prev)
    return float(np.linalg.norm(cur - prev, axis=1).mean() / spread) if spread > 0 else 0.0


def warm_tsne(features, previous_map, perplexity: float = 30.0, n_iter: int = 150, seed: int = 0,
              n_jobs: int = 1, reorganise: bool = False) -> np.ndarray:
    """A t-SNE map of `features` (n, d) that starts from `previous_map` (n, 2) and is optimised
    `n_iter` iterations without early exaggeration: the previous layout, adjusted to these features.
    ``reorganise``: first REORGANISE_STEPS (a gentle exaggeration), for features that changed a lot."""
    from openTSNE import TSNEEmbedding, affinity

    x = np.ascontiguousarray(features, dtype=np.float64)
    start = np.ascontiguousarray(previous_map, dtype=np.float64)
    if x.ndim != 2 or start.shape != (len(x), 2):
        raise ValueError(f"Expected features (n, d) and a previous map (n, 2) of the same points; got {x.shape} "
                         f"and {start.shape}.")
    if 3 * float(perplexity) >= len(x):
        raise ValueError(f"perplexity={perplexity:g} is too large for {len(x)} points (at most "
                         f"{max_perplexity(len(x)):g}).")
    aff = affinity.PerplexityBasedNN(x, perplexity=float(perplexity), method="exact", n_jobs=n_jobs,
                                     random_state=int(seed))
    embedding = TSNEEmbedding(start, aff, n_jobs=n_jobs, random_state=int(seed), **WARM_PARAMS)
    if reorganise:
        embedding = embedding.optimize(**REORGANISE_STEPS, momentum=WARM_MOMENTUM, inplace=True)
    out = embedding.optimize(n_iter=int(n_iter), exaggeration=None, momentum=WARM_MOMENTUM, inplace=True)
    return np.asarray(out, dtype=np.float32)


def neighbour_overlap(a, b, k: int = 10) -> float:
    """The mean share of each point's k nearest neighbours in `a` (n, d) that are still among its k
    nearest in `b` (n, d'): 1.0 for the same neighbourhoods, about k/n for unrelated ones."""
    from sklearn.neighbors import NearestNeighbors

    k = min(int(k), len(a) - 1)
    near = [NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:] for x in (a, b)]
    same = (near[0][:, :, None] == near[1][:, None, :]).any(axis=2)
    return float(same.mean())


def _frame_features(recording: Recording, layer: str, frame: int) -> np.ndarray:
    x = recording.features(layer, frame)
    if not np.isfinite(x).all():
        raise ValueError(f"Layer {layer!r} holds NaN or infinity at epoch {recording.epochs[frame]} (the training "
                         "diverged). Retrain with a smaller learning rate.")
    return x


def _map(recording: Recording, layer: str, frame: int, previous, config: ReplayConfig) -> np.ndarray:
    x = _frame_features(recording, layer, frame)
    if config.method == "pca":
        coords = pca(x, 2)[0] if np.ptp(x, axis=0).max() > 0 else np.zeros((len(x), 2), np.float32)
        return coords if previous is None else procrustes(coords, previous).astype(np.float32)
    if np.ptp(x, axis=0).max() == 0:
        raise ValueError(f"Layer {layer!r} gives every digit the same output at epoch {recording.epochs[frame]} "
                         "(its units are dead), so t-SNE has nothing to separate. Try PCA, or retrain the model.")
    if previous is None:
        return tsne(x, perplexity=config.perplexity, n_iter=config.first_iter, random_state=int(config.seed),
                    device="cpu")
    moved = neighbour_overlap(_frame_features(recording, layer, frame - 1), x) < REORGANISED
    return warm_tsne(x, previous, config.perplexity, config.step_iter, int(config.seed), int(config.n_jobs),
                     reorganise=moved)


def _check_replay_inputs(recording: Recording, layer: str, config: ReplayConfig, on_progress) -> None:
    check_replay_config(config)
    why = replay_unavailable(recording)
    if why:
        raise ValueError(why)
    if layer not in recording.layer_names:
        raise ValueError(f"Unknown layer {layer!r}: expected one of {', '.join(recording.layer_names)}.")
    if config.method == "tsne" and 3 * config.perplexity >= recording.n_points:
        raise ValueError(f"perplexity={config.perplexity:g} is too large for {recording.n_points} points "
                         f"(at most {max_perplexity(recording.n_points):g}). Lower it.")
    if on_progress is not None and not callable(on_progress):
        raise ValueError(f"on_progress must be a function (frame, total, coords_so_far) -> bool; "
                         f"got {type(on_progress).__name__}.")


def replay(recording: Recording, layer: str, config: ReplayConfig = ReplayConfig(),
           on_progress=None) -> ReplayResult:
    """Every recorded frame of `layer` as a 2-D map, each aligned with the previous one, with
    its trustworthiness. `on_progress(frame, total, coords_so_far)` is called after each frame
    (frame = frames done, coords_so_far = list of (n, 2) arrays); returning False stops and
    returns the frames so far as a result with stopped_at = frame."""
    _check_replay_inputs(recording, layer, config, on_progress)
    total = recording.n_frames
    maps: list[np.ndarray] = []
    trust: list[float] = []
    seconds: list[float] = []
    stopped_at = None
    for frame in range(total):
        start = time.perf_counter()
        coords = _map(recording, layer, frame, maps[-1] if maps else None, config)
        seconds.append(time.perf_counter() - start)
        maps.append(np.ascontiguousarray(coords, dtype=np.float32))
        trust.append(trustworthiness(_frame_features(recording, layer, frame), coords, k=config.trust_k))
        if on_progress is not None and on_progress(frame + 1, total, list(maps)) is False and frame + 1 < total:
            stopped_at = frame + 1
            break
    return ReplayResult(layer=layer, method=config.method, epochs=tuple(recording.epochs[:len(maps)]),
                        coords=np.stack(maps), trust=tuple(trust), seconds=tuple(seconds), total_frames=total,
                        stopped_at=stopped_at)


def replay_key(model_key: str, layer: str, config: ReplayConfig = ReplayConfig()) -> str:
    """A stable 16-hex-digit key for a replay job: the trained model's key, the layer, the settings."""
    payload = {"v": 2, "model": str(model_key), "layer": str(layer), "config": asdict(config)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def knn_over_training(recording: Recording, k: int = 5, random_state: int = 0) -> dict[str, tuple[float, ...]]:
    """k-NN accuracy (5-fold, see analysis.embedding.knn_accuracy) of every layer at every recorded
    epoch: name -> one value per frame. The pixels do not change: their value repeats."""
    labels = recording.labels
    pixels = knn_accuracy(recording.features("pixels", 0), labels, k=k, random_state=random_state)
    out = {"pixels": (pixels,) * recording.n_frames}
    for name in recording.layers:
        out[name] = tuple(knn_accuracy(_frame_features(recording, name, f), labels, k=k, random_state=random_state)
                          for f in range(recording.n_frames))
    return out


def frames_csv(result: ReplayResult, recording: Recording, class_names=None) -> str:
    """The frames' coordinates as CSV: frame, epoch, point, dataset index, label, x, y."""
    names = list(class_names) if class_names is not None else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["frame", "epoch", "point", "index", "label", "x", "y"])
    for f, epoch in enumerate(result.epochs):
        for i, (index, label) in enumerate(zip(recording.indices, recording.labels)):
            x, y = result.coords[f, i]
            writer.writerow([f, epoch, i, int(index), names[label] if names else int(label),
                             f"{float(x):.5g}", f"{float(y):.5g}"])
    return out.getvalue()
