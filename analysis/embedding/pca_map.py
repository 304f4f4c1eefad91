"""PCA: 2-D (or k-D) coordinates and the share of variance each component explains."""
from __future__ import annotations

import numpy as np

from analysis.checks import check_int
from analysis.embedding.checks import as_matrix


def _pca_solver(n: int, d: int) -> str:
    # Both solvers are exact and deterministic (no randomized SVD). With up to
    # 1,000 features (or more points than features) the eigendecomposition of
    # the d x d covariance is several times faster than a full SVD of the n x d
    # data (2,000 x 784 MNIST: ~0.1 s against ~0.5 s); otherwise the SVD.
    return "covariance_eigh" if d <= 1000 or n >= d else "full"


def pca64(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
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
    x = as_matrix(features, min_rows=2)
    n, d = x.shape
    k_max = min(n, d)
    k = check_int(n_components, "n_components", 1)
    if k > k_max:
        raise ValueError(
            f"n_components must be at most min(points, dimensions) = {k_max} for "
            f"features of shape {x.shape}; got {k}. Ask for fewer components."
        )
    coords, ratio = pca64(x, k)
    return coords.astype(np.float32), ratio.astype(np.float64)
