"""t-SNE: the checks, the PCA reduction and start, and the choice of back end
(openTSNE on the CPU, exact PyTorch t-SNE on a CUDA GPU or, for tests, the CPU)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from analysis.checks import check_int
from analysis.embedding import opentsne_backend, pca_map, torch_backend
from analysis.embedding.checks import as_matrix, as_seed, check_perplexity

ProgressCallback = Callable[[int, np.ndarray], "bool | None"]

PCA_DIMS = 50  # tsne reduces its input to this many dimensions first (when it has more)
EARLY_EXAGGERATION = 12.0  # attraction multiplier in the first phase (both back ends)
EARLY_EXAGGERATION_ITER = 250  # length of that phase, at most n_iter // 3
PROGRESS_EVERY = 25  # on_progress is called every this many iterations
INIT_STD = 1e-4  # the PCA initialisation is scaled so its first axis has this std


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


def reduce(x: np.ndarray) -> np.ndarray:
    """Centred data, reduced to PCA_DIMS dimensions by PCA when wider, ordered
    by decreasing variance (so its first two columns are the PCA init)."""
    n, d = x.shape
    # Always project, also when d <= 50 (then k = min(n, d): a rotation, which
    # keeps every distance): the columns come in order of variance, so the
    # first two are the PCA initialisation.
    coords, _ = pca_map.pca64(x, min(PCA_DIMS, n, d))
    return np.ascontiguousarray(coords)


def initial_layout(z: np.ndarray, seed: int) -> np.ndarray:
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
    else:  # no variance at all along the top component (tsne refuses identical points first)
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
    n_jobs: int | None = None,
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
      that are idle when it starts, or ``n_jobs`` threads when given: see
      ``opentsne_backend.choose_n_jobs``; the map does not depend on it),
      ``"cuda"`` (exact t-SNE in PyTorch on the GPU) or ``"torch-cpu"`` (that
      exact t-SNE on the CPU; O(n^2) memory and time, for small n and tests).
      In "auto" mode a map too large for the GPU's free memory runs on the CPU.
    - The same ``random_state`` gives the same map on the same device and back
      end (None: a fresh seed each call). Back ends differ from each other.

    Raises ValueError for: features not 2-D, non-numeric or non-finite, fewer
    than 5 points, all points identical, 3 x perplexity >= n, perplexity < 1,
    n_iter < 1, a bad seed, callback, device or n_jobs.
    """
    x = as_matrix(features, min_rows=5)
    p = check_perplexity(perplexity, x.shape[0])
    n_iter = check_int(n_iter, "n_iter", 1)
    progress_every = check_int(progress_every, "progress_every", 1)
    seed = as_seed(random_state)
    backend = _check_rest(x, on_progress, device)
    z = reduce(x)
    init = initial_layout(z, seed)
    n_ee = min(EARLY_EXAGGERATION_ITER, n_iter // 3)
    if backend == "cpu":
        y = opentsne_backend.run(z, init, p, n_iter, n_ee, EARLY_EXAGGERATION, seed, on_progress, progress_every,
                                 n_jobs=n_jobs)
    else:
        y = torch_backend.run(z, init, p, n_iter, n_ee, EARLY_EXAGGERATION, on_progress, progress_every,
                              "cuda" if backend == "cuda" else "cpu")
    return np.ascontiguousarray(y, dtype=np.float32)


def _check_rest(x: np.ndarray, on_progress, device: str) -> str:
    """Checks the callback and the spread of the points; the back end to use."""
    if on_progress is not None and not callable(on_progress):
        raise ValueError(
            f"on_progress must be a function (iteration, embedding) -> bool or None; "
            f"got {type(on_progress).__name__}."
        )
    backend = resolve_device(device)
    if np.ptp(x, axis=0).max() == 0:
        raise ValueError(
            f"all {len(x)} points are identical, so there is nothing for t-SNE to "
            "separate. Check the features (e.g. a layer whose units are all dead "
            "outputs zeros for every input)."
        )
    if backend == "cuda" and device == "auto" and not torch_backend.fits_on_gpu(len(x)):
        backend = "cpu"
    return backend
