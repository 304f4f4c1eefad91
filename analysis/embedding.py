"""Embeddings of a layer's output: t-SNE, PCA, and how well a 2-D map keeps
the classes apart.

Pure Python (NumPy, SciPy, scikit-learn, openTSNE, PyTorch): no Streamlit.

- ``tsne`` maps n points to 2-D. On a CPU it runs openTSNE (exact k-nearest
  neighbours, FFT-accelerated gradients, the idle cores); with a CUDA GPU it runs an
  exact t-SNE written in PyTorch. Both reduce the input to 50 dimensions with
  PCA first (when it has more), start from the first two principal
  components, and report progress through ``on_progress``.
- ``pca`` gives 2-D (or k-D) coordinates and the share of variance each
  component explains.
- ``trustworthiness`` (is a point's map neighbourhood made of its true
  neighbours?) and ``knn_accuracy`` (can its neighbours tell its label?)
  measure how well a representation, or its map, separates the classes.
- ``stratified_sample`` picks the points to show; ``sample_size_bounds`` gives
  the page its slider range.

Errors are ``ValueError`` with what was expected, what came and how to fix it.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "tsne",
    "pca",
    "trustworthiness",
    "knn_accuracy",
    "stratified_sample",
    "sample_size_bounds",
    "max_perplexity",
    "cuda_available",
    "resolve_device",
    "PCA_DIMS",
    "EARLY_EXAGGERATION",
    "EARLY_EXAGGERATION_ITER",
    "PROGRESS_EVERY",
]

ProgressCallback = Callable[[int, np.ndarray], "bool | None"]

PCA_DIMS = 50  # tsne reduces its input to this many dimensions first (when it has more)
EARLY_EXAGGERATION = 12.0  # attraction multiplier in the first phase (both back ends)
EARLY_EXAGGERATION_ITER = 250  # length of that phase, at most n_iter // 3
PROGRESS_EVERY = 25  # on_progress is called every this many iterations
INIT_STD = 1e-4  # the PCA initialisation is scaled so its first axis has this std

# openTSNE settings for the CPU back end, chosen on 2,000 and 5,000 MNIST
# digits, raw and a hidden layer (benchmarks/README.md, "Embedding").
# Gradients: FFT-accelerated interpolation with a coarser grid than openTSNE's
# default (2 units per interval instead of 1, at least 20 intervals instead of
# 50): ~5x cheaper per iteration at the same trustworthiness on these sizes.
OPENTSNE_PARAMS = dict(
    negative_gradient_method="fft",
    ints_in_interval=2.0,
    min_num_intervals=20,
    n_interpolation_points=3,
    learning_rate="auto",  # n / exaggeration (Belkina et al., 2019)
    initial_momentum=0.8,
    final_momentum=0.8,
    max_step_norm=5.0,
)
OPENTSNE_N_JOBS = None  # threads; None: the cores not busy with other work (_n_jobs)
OPENTSNE_MIN_POINTS_PER_THREAD = 1_000  # below this many points: one thread
OPENTSNE_NEIGHBORS = "exact"  # scikit-learn k-NN: deterministic, and fast at <= 20,000 x 50

# Exact PyTorch t-SNE (the GPU back end): scikit-learn's optimiser.
TORCH_MOMENTUM = (0.5, 0.8)  # during / after early exaggeration
TORCH_MIN_GAIN = 0.01
TORCH_MIN_LEARNING_RATE = 50.0
TORCH_PERPLEXITY_STEPS = 100  # binary-search steps of the perplexity calibration
TORCH_PERPLEXITY_TOL = 1e-5  # on the entropy (nats)
TORCH_MEMORY_FACTOR = 32  # bytes per point pair the exact method needs at peak (about)


# --------------------------------------------------------------------------
# validation helpers


def _as_matrix(features, name: str = "features", min_rows: int = 1) -> np.ndarray:
    """Return ``features`` as a finite float64 2-D array, or raise ValueError."""
    if features is None:
        raise ValueError(
            f"{name} must be a 2-D array (n points x d values); got None. "
            "Pass a NumPy array, e.g. the flattened images or a layer's output."
        )
    try:
        arr = np.asarray(features)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(
            f"{name} must be a 2-D numeric array (n points x d values); could not "
            f"convert it ({exc}). Pass rows of equal length."
        ) from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == bool
    ):
        raise ValueError(
            f"{name} must hold numbers; got dtype {arr.dtype}. Convert it to floats "
            "first (e.g. np.asarray(x, dtype=float))."
        )
    if np.iscomplexobj(arr):
        raise ValueError(
            f"{name} must hold real numbers; got complex dtype {arr.dtype}. "
            "Pass the real part or the magnitude."
        )
    if arr.ndim != 2:
        hint = (
            "Flatten each point to one row, e.g. x.reshape(len(x), -1)."
            if arr.ndim > 2
            else "Pass one row per point, e.g. x.reshape(-1, 1) for one value per point."
        )
        raise ValueError(
            f"{name} must be 2-D (n points x d values); got {arr.ndim}-D with "
            f"shape {arr.shape}. {hint}"
        )
    n, d = arr.shape
    if d < 1:
        raise ValueError(
            f"{name} must have at least one value per point; got shape {arr.shape}."
        )
    if n < min_rows:
        raise ValueError(
            f"{name} must have at least {min_rows} points (rows); got {n}. "
            "Use a larger sample."
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(
            f"{name} must be finite; {bad} of {n} rows contain NaN or infinity. "
            "Drop or fix those rows (e.g. a diverged model produces NaN "
            "activations: retrain it with a smaller learning rate)."
        )
    return arr


def _as_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(
            f"{name} must be a whole number >= {minimum}; got {value!r} "
            f"({type(value).__name__})."
        )
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def _as_seed(random_state) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ValueError(
            f"random_state must be a whole number (a seed) or None; got "
            f"{random_state!r}. The same seed gives the same map."
        )
    if not 0 <= random_state < 2**32:
        raise ValueError(f"random_state must be between 0 and 2**32 - 1; got {random_state}.")
    return int(random_state)


def max_perplexity(n_points: int) -> float:
    """Largest perplexity (one decimal) ``tsne`` accepts for ``n_points``
    points: it needs 3 x perplexity < n_points."""
    return math.floor((n_points / 3.0) * 10 - 1e-9) / 10


def _check_perplexity(perplexity, n: int) -> float:
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float, np.number)):
        raise ValueError(
            f"perplexity must be a number (typically 5-50); got {perplexity!r}."
        )
    p = float(perplexity)
    if not math.isfinite(p) or p < 1:
        raise ValueError(
            f"perplexity must be a finite number >= 1 (typically 5-50); got {perplexity!r}."
        )
    if 3 * p >= n:
        raise ValueError(
            f"perplexity={p:g} is too large for {n} points: t-SNE needs "
            f"3 x perplexity < number of points, so the largest perplexity "
            f"allowed for {n} points is {max_perplexity(n):g}. Lower the "
            f"perplexity or use more points (at least {math.floor(3 * p) + 1})."
        )
    return p


# --------------------------------------------------------------------------
# PCA


def _pca_solver(n: int, d: int) -> str:
    # Both solvers are exact and deterministic (no randomized SVD). With up to
    # 1,000 features (or more points than features) the eigendecomposition of
    # the d x d covariance is several times faster than a full SVD of the n x d
    # data (2,000 x 784 MNIST: ~0.1 s against ~0.5 s); otherwise the SVD.
    return "covariance_eigh" if d <= 1000 or n >= d else "full"


def _pca64(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    model = PCA(n_components=k, svd_solver=_pca_solver(*x.shape))
    coords = model.fit_transform(x)
    ratio = np.nan_to_num(model.explained_variance_ratio_, nan=0.0)
    return coords, ratio


def pca(features, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Principal component analysis.

    Returns ``(coords, explained_variance_ratio)``: ``coords`` float32 of shape
    (n, n_components), the data projected on its top principal components
    (centred; not whitened), and ``explained_variance_ratio`` float64 of shape
    (n_components,), the share of the total variance each component explains
    (sum it for "% variance explained"). Deterministic: an exact solver (the
    covariance eigendecomposition for up to 1,000 features, a full SVD for
    wider data), with scikit-learn's sign convention.
    """
    x = _as_matrix(features, min_rows=2)
    n, d = x.shape
    k_max = min(n, d)
    k = _as_int(n_components, "n_components", 1)
    if k > k_max:
        raise ValueError(
            f"n_components must be at most min(points, dimensions) = {k_max} for "
            f"features of shape {x.shape}; got {k}. Ask for fewer components."
        )
    coords, ratio = _pca64(x, k)
    return coords.astype(np.float32), ratio.astype(np.float64)


# --------------------------------------------------------------------------
# t-SNE


def cuda_available() -> bool:
    """True when PyTorch sees a CUDA GPU (imports torch)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a requirement
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: str = "auto") -> str:
    """Which back end ``tsne(device=device)`` uses: ``"cuda"`` (exact t-SNE in
    PyTorch on the GPU), ``"cpu"`` (openTSNE) or ``"torch-cpu"`` (the exact
    PyTorch t-SNE on the CPU: slow, O(n^2), for tests and small n)."""
    allowed = ("auto", "cpu", "cuda", "torch-cpu")
    if device not in allowed:
        raise ValueError(
            f"device must be one of {allowed}; got {device!r}. Use 'auto' to take "
            "the GPU when there is one."
        )
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise ValueError(
            "device='cuda' but PyTorch sees no CUDA GPU on this machine. Use "
            "device='auto' (GPU when present, otherwise CPU) or device='cpu'."
        )
    return device


def _torch_fits_on_gpu(n: int) -> bool:
    import torch

    try:
        free, _total = torch.cuda.mem_get_info()
    except Exception:  # pragma: no cover - only on odd CUDA setups
        return True
    return n * n * TORCH_MEMORY_FACTOR < 0.8 * free


def _reduce(x: np.ndarray) -> np.ndarray:
    """Centred data, reduced to PCA_DIMS dimensions by PCA when wider, ordered
    by decreasing variance (so its first two columns are the PCA init)."""
    n, d = x.shape
    # Always project, also when d <= 50 (then k = min(n, d): a rotation, which
    # keeps every distance): the columns come in order of variance, so the
    # first two are the PCA initialisation.
    coords, _ = _pca64(x, min(PCA_DIMS, n, d))
    return np.ascontiguousarray(coords)


def _initial_layout(z: np.ndarray, seed: int) -> np.ndarray:
    """PCA initialisation as in openTSNE / scikit-learn: first two principal
    components scaled so the first has std INIT_STD, plus 1% jitter so exact
    duplicates do not sit on top of each other."""
    rng = np.random.RandomState(seed)
    n = z.shape[0]
    init = np.zeros((n, 2))
    cols = min(2, z.shape[1])
    init[:, :cols] = z[:, :cols]
    std = float(np.std(init[:, 0]))
    if std > 0:
        init /= std / INIT_STD
    else:  # no variance at all along the top component (cannot happen after _check_spread)
        init[:] = 0.0
    if cols < 2 or np.std(init[:, 1]) == 0:
        init[:, 1] = rng.normal(0, INIT_STD, n)
    init += rng.normal(0, INIT_STD * 0.01, init.shape)
    return np.ascontiguousarray(init)


def tsne(
    features,
    perplexity: float = 30.0,
    n_iter: int = 750,
    random_state: int | None = 0,
    on_progress: ProgressCallback | None = None,
    device: str = "auto",
    progress_every: int = PROGRESS_EVERY,
) -> np.ndarray:
    """t-SNE map of ``features`` (n points x d values) to 2-D.

    Returns a float32 array of shape (n, 2).

    - The input is centred and, when d > 50, reduced to 50 dimensions with PCA
      (deterministic). The map starts from the first two principal components
      (scaled to std 1e-4).
    - ``n_iter`` counts all iterations: the first ``min(250, n_iter // 3)`` use
      early exaggeration 12 (clusters form), the rest refine the map.
    - ``on_progress(iteration, embedding)`` is called about every
      ``progress_every`` iterations with the map so far (a float32 (n, 2)
      copy). Return ``False`` to stop: ``tsne`` then returns that map. Any
      other return value (``None`` included) continues.
    - ``device``: ``"auto"`` (GPU when PyTorch sees one, else CPU), ``"cpu"``
      (openTSNE: exact neighbours, FFT-accelerated gradients, the cores
      that are idle when it starts; see ``_n_jobs``),
      ``"cuda"`` (exact t-SNE in PyTorch on the GPU) or ``"torch-cpu"`` (that
      exact t-SNE on the CPU; O(n^2) memory and time, for small n and tests).
      In "auto" mode a map too large for the GPU's free memory runs on the CPU.
    - The same ``random_state`` gives the same map on the same device and back
      end (None: a fresh seed each call). Back ends differ from each other.

    Raises ValueError for: features not 2-D, non-numeric or non-finite, fewer
    than 5 points, all points identical, 3 x perplexity >= n, perplexity < 1,
    n_iter < 1, a bad seed, callback or device.
    """
    x = _as_matrix(features, min_rows=5)
    n = x.shape[0]
    p = _check_perplexity(perplexity, n)
    n_iter = _as_int(n_iter, "n_iter", 1)
    progress_every = _as_int(progress_every, "progress_every", 1)
    seed = _as_seed(random_state)
    if on_progress is not None and not callable(on_progress):
        raise ValueError(
            f"on_progress must be a function (iteration, embedding) -> bool or None; "
            f"got {type(on_progress).__name__}."
        )
    backend = resolve_device(device)
    if np.ptp(x, axis=0).max() == 0:
        raise ValueError(
            f"all {n} points are identical, so there is nothing for t-SNE to "
            "separate. Check the features (e.g. a layer whose units are all dead "
            "outputs zeros for every input)."
        )
    if backend == "cuda" and device == "auto" and not _torch_fits_on_gpu(n):
        backend = "cpu"

    z = _reduce(x)
    init = _initial_layout(z, seed)
    n_ee = min(EARLY_EXAGGERATION_ITER, n_iter // 3)
    if backend == "cpu":
        y = _tsne_opentsne(z, init, p, n_iter, n_ee, seed, on_progress, progress_every)
    else:
        y = _tsne_torch(
            z, init, p, n_iter, n_ee, on_progress, progress_every,
            "cuda" if backend == "cuda" else "cpu",
        )
    return np.ascontiguousarray(y, dtype=np.float32)


def _busy_cores(window: float = 0.1) -> float | None:
    """How many cores are busy right now (all processes, from /proc/stat over
    ``window`` seconds, while this thread sleeps); None where unreadable."""

    def snapshot():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + (values[4] if len(values) > 4 else 0)

    try:
        total0, idle0 = snapshot()
        time.sleep(window)
        total1, idle1 = snapshot()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    busy = 1.0 - (idle1 - idle0) / (total1 - total0)
    return max(0.0, busy) * (os.cpu_count() or 1)


def _n_jobs(n_points: int) -> int:
    """Threads for openTSNE (the map is the same for any thread count).

    One below OPENTSNE_MIN_POINTS_PER_THREAD points (threads do not pay off);
    otherwise every core this process may use, minus the cores that are busy
    right now, at least one. openTSNE's threads (like scikit-learn's) meet at
    a barrier many times per iteration, so on a busy machine one descheduled
    thread stalls the others: 2 threads then ran 2-5x slower than 1 (see
    benchmarks/README.md, "Embedding")."""
    if OPENTSNE_N_JOBS:
        return int(OPENTSNE_N_JOBS)
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        cores = max(1, os.cpu_count() or 1)
    if cores == 1 or n_points < OPENTSNE_MIN_POINTS_PER_THREAD:
        return 1
    busy = _busy_cores()
    if busy is None:
        return cores
    # a core counts as taken once a quarter of it is busy
    return max(1, min(cores, cores - math.ceil(busy - 0.25)))


def _tsne_opentsne(z, init, perplexity, n_iter, n_ee, seed, on_progress, every):
    from openTSNE import TSNEEmbedding, affinity
    from openTSNE.tsne import OptimizationInterrupt

    n_jobs = _n_jobs(len(z))
    log.info("t-SNE: openTSNE on %d points with %d thread(s)", len(z), n_jobs)
    aff = affinity.PerplexityBasedNN(
        z,
        perplexity=perplexity,
        method=OPENTSNE_NEIGHBORS,
        n_jobs=n_jobs,
        random_state=seed,
    )
    params = dict(OPENTSNE_PARAMS)
    momenta = (params.pop("initial_momentum"), params.pop("final_momentum"))
    offset = [0]

    def callback(iteration, _error, embedding):
        # openTSNE: a callback returning True stops the optimisation. Ours:
        # on_progress returning False stops.
        keep_going = on_progress(offset[0] + iteration, np.array(embedding, dtype=np.float32))
        return keep_going is False

    embedding = TSNEEmbedding(
        init,
        aff,
        n_jobs=n_jobs,
        random_state=seed,
        callbacks=callback if on_progress is not None else None,
        callbacks_every_iters=every,
        **params,
    )
    phases = [(n_ee, EARLY_EXAGGERATION, momenta[0]), (n_iter - n_ee, None, momenta[1])]
    try:
        for length, exaggeration, momentum in phases:
            if length > 0:
                embedding.optimize(
                    n_iter=length,
                    exaggeration=exaggeration,
                    momentum=momentum,
                    inplace=True,
                    propagate_exception=True,
                )
            offset[0] += length
    except OptimizationInterrupt as stop:
        return np.array(stop.final_embedding, dtype=np.float32)
    return np.array(embedding, dtype=np.float32)


def _joint_probabilities_torch(z, perplexity: float, torch, dev):
    """Full symmetric P (n x n, float32) from squared Euclidean distances, each
    row's Gaussian bandwidth found by binary search so its perplexity matches
    (as in van der Maaten's reference code and scikit-learn's exact method)."""
    x = torch.as_tensor(z, dtype=torch.float64, device=dev)
    n = x.shape[0]
    sq = (x * x).sum(1)
    d = torch.addmm(sq[:, None] + sq[None, :], x, x.T, alpha=-2.0).clamp_min_(0.0)
    d.fill_diagonal_(float("inf"))
    # Shift each row by its smallest distance (P is unchanged) so the nearest
    # neighbour gets exp(0) = 1: no underflow to an all-zero row. Then scale all
    # distances by one number so a bandwidth of 1 is the right order.
    d -= d.min(dim=1, keepdim=True).values
    d.fill_diagonal_(0.0)
    scale = d.sum() / (n * (n - 1))
    if scale > 0:
        d /= scale
    target = math.log(perplexity)
    beta = torch.ones(n, 1, dtype=torch.float64, device=dev)
    lo = torch.zeros_like(beta)
    hi = torch.full_like(beta, float("inf"))
    p = torch.empty_like(d)
    for step in range(TORCH_PERPLEXITY_STEPS):
        torch.mul(d, -beta, out=p).exp_()
        p.fill_diagonal_(0.0)
        sum_p = p.sum(1, keepdim=True)
        entropy = torch.log(sum_p) + beta * (d * p).sum(1, keepdim=True) / sum_p
        diff = entropy - target
        if step % 10 == 9 and bool((diff.abs() < TORCH_PERPLEXITY_TOL).all()):
            break
        too_flat = diff > 0  # entropy too high: narrow the Gaussian (raise beta)
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(
            too_flat,
            torch.where(torch.isinf(hi), beta * 2.0, (beta + hi) / 2.0),
            (beta + lo) / 2.0,
        )
    torch.mul(d, -beta, out=p).exp_()
    p.fill_diagonal_(0.0)
    p /= p.sum(1, keepdim=True)
    del d
    p = p + p.T
    p /= p.sum()
    p = p.to(torch.float32).clamp_min_(1e-12)
    p.fill_diagonal_(0.0)
    return p


def _kl_gradient(p, y, ones):
    """Exact gradient of KL(P || Q) with respect to the map y (n x 2):
    grad_i = 4 * sum_j (p_ij - q_ij) (y_i - y_j) / (1 + |y_i - y_j|^2)."""
    import torch

    sq = (y * y).sum(1)
    # num_ij = 1 / (1 + |y_i - y_j|^2) (Student-t kernel), zero diagonal
    num = torch.addmm(sq[:, None], y, y.T, alpha=-2.0)
    num.add_(sq[None, :] + 1.0).clamp_min_(1.0).reciprocal_()
    num.fill_diagonal_(0.0)
    inv_z = num.sum().reciprocal()
    # w_ij = (p_ij - q_ij) * num_ij, with q_ij = num_ij / Z
    w = torch.addcmul(p, num, inv_z, value=-1.0).mul_(num)
    # one pass over w gives both sum_j w_ij and sum_j w_ij y_j
    r = w @ torch.cat([y, ones], dim=1)
    return 4.0 * (r[:, 2:] * y - r[:, :2])


def _tsne_torch(z, init, perplexity, n_iter, n_ee, on_progress, every, device):
    """Exact t-SNE (full P, exact O(n^2) gradient) in PyTorch with
    scikit-learn's optimiser: early exaggeration 12 with momentum 0.5 for the
    first n_ee iterations, then momentum 0.8; per-coordinate gains (+0.2 when
    the gradient changes sign, x0.8 otherwise, at least 0.01); learning rate
    max(n / 12 / 4, 50)."""
    import torch

    dev = torch.device(device)
    n = z.shape[0]
    log.info("t-SNE: exact PyTorch t-SNE on %d points (%s)", n, device)
    p = _joint_probabilities_torch(z, perplexity, torch, dev)
    y = torch.as_tensor(init, dtype=torch.float32, device=dev).clone()
    update = torch.zeros_like(y)
    gains = torch.ones_like(y)
    lr = max(n / EARLY_EXAGGERATION / 4.0, TORCH_MIN_LEARNING_RATE)
    p_early = p * EARLY_EXAGGERATION if n_ee else None
    ones = torch.ones(n, 1, dtype=y.dtype, device=dev)
    for it in range(n_iter):
        early = it < n_ee
        p_now = p_early if early else p
        momentum = TORCH_MOMENTUM[0] if early else TORCH_MOMENTUM[1]
        if it == n_ee:
            p_early = None  # free it
        grad = _kl_gradient(p_now, y, ones)
        same_sign = (update * grad) >= 0.0
        gains = torch.where(same_sign, gains * 0.8, gains + 0.2).clamp_min_(TORCH_MIN_GAIN)
        update = momentum * update - lr * gains * grad
        y = y + update
        done = it + 1
        if on_progress is not None and done % every == 0:
            if on_progress(done, y.detach().cpu().numpy().astype(np.float32)) is False:
                break
    return y.detach().cpu().numpy().astype(np.float32)


# --------------------------------------------------------------------------
# separation metrics


def _check_pair(features, embedding):
    x = _as_matrix(features, "features", min_rows=2)
    e = _as_matrix(embedding, "embedding", min_rows=2)
    if len(x) != len(e):
        raise ValueError(
            f"features and embedding must describe the same points; got "
            f"{len(x)} rows of features and {len(e)} rows of embedding. Pass the "
            "embedding computed from these features."
        )
    return x, e


def trustworthiness(features, embedding, k: int = 10) -> float:
    """Trustworthiness of ``embedding`` for ``features`` with k neighbours, in
    [0, 1]: 1 when every point's k nearest neighbours in the map are also among
    its nearest neighbours in the original space (Venna & Kaski). Computed by
    scikit-learn's ``sklearn.manifold.trustworthiness`` (Euclidean). Needs
    k < n / 2. Costs O(n^2) memory: use a sample of a few thousand points."""
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    x, e = _check_pair(features, embedding)
    n = len(x)
    k = _as_int(k, "k", 1)
    if k >= n / 2:
        raise ValueError(
            f"k must be less than half the number of points ({n} points: k <= "
            f"{math.ceil(n / 2) - 1}); got k={k}. Use a smaller k or more points."
        )
    return float(sk_trustworthiness(x, e, n_neighbors=k))


def knn_accuracy(features, labels, k: int = 5, random_state: int = 0) -> float:
    """How well a point's k nearest neighbours predict its label, in [0, 1].

    Mean accuracy of a k-nearest-neighbour classifier (Euclidean distance,
    majority vote) over a 5-fold stratified cross-validation, shuffled with
    ``random_state``: every point is predicted once, by a classifier that never
    saw it. Works on any representation (the original features or a 2-D map).
    Chance level is about the share of the largest class. Needs at least 10
    points, 2 classes, and k < 4/5 of the points; classes with fewer than 5
    points are still used (scikit-learn's warning about them is silenced).
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    x = _as_matrix(features, "features", min_rows=1)
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"labels must be 1-D with one label per point ({len(x)}); got shape "
            f"{y.shape}. Pass the labels of the same points as the features."
        )
    n = len(x)
    if n < 10:
        raise ValueError(f"knn_accuracy needs at least 10 points; got {n}. Use a larger sample.")
    k = _as_int(k, "k", 1)
    folds = 5
    train_size = n - math.ceil(n / folds)
    if k > train_size:
        raise ValueError(
            f"k must be at most {train_size} for {n} points (each fold trains on "
            f"about 4/5 of them); got k={k}. Use a smaller k."
        )
    if len(np.unique(y)) < 2:
        raise ValueError(
            "labels must contain at least 2 different classes for an accuracy to "
            f"mean anything; got only {np.unique(y).tolist()}."
        )
    seed = _as_seed(random_state)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        scores = cross_val_score(KNeighborsClassifier(n_neighbors=k), x, y, cv=cv)
    return float(np.mean(scores))


# --------------------------------------------------------------------------
# samples


def stratified_sample(labels, n: int, random_state: int = 0) -> np.ndarray:
    """Indices (sorted, int64) of ``n`` points drawn without replacement so each
    label keeps its share (largest-remainder rounding). ``n`` is capped at
    ``len(labels)``; the same seed gives the same sample."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D (one label per point); got shape {y.shape}.")
    n = _as_int(n, "n", 1)
    total = len(y)
    if total == 0:
        raise ValueError("labels is empty: there is nothing to sample from.")
    n = min(n, total)
    if n == total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng(_as_seed(random_state))
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * n / total
    take = np.floor(quota).astype(np.int64)
    short = n - int(take.sum())
    if short:
        # largest remainders first; ties broken at random (seeded)
        order = np.lexsort((rng.random(len(classes)), -(quota - take)))
        take[order[:short]] += 1
    chosen = [
        rng.choice(np.flatnonzero(inverse == c), size=int(t), replace=False)
        for c, t in enumerate(take)
        if t
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def sample_size_bounds(
    n_available: int, gpu: bool, cpu_cap: int = 5_000, gpu_cap: int = 20_000
) -> tuple[int, int, int]:
    """(smallest, default, largest) number of points to offer for a map:
    min(500, n), min(2,000, n) and min(cap, n), where the cap is ``gpu_cap``
    with a GPU and ``cpu_cap`` without (t-SNE cost grows with n)."""
    n_available = _as_int(n_available, "n_available", 1)
    cap = _as_int(gpu_cap if gpu else cpu_cap, "cap", 1)
    hi = min(cap, n_available)
    lo = min(500, hi)
    return lo, min(2_000, hi), hi
