"""Separation metrics: how well a representation, or its 2-D map, keeps the classes apart."""
from __future__ import annotations

import math
import warnings

import numpy as np

from analysis.checks import check_int
from analysis.embedding.checks import as_matrix, as_seed


def _check_pair(features, embedding):
    x = as_matrix(features, "features", min_rows=2)
    e = as_matrix(embedding, "embedding", min_rows=2)
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
    k = check_int(k, "k", 1)
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

    x = as_matrix(features, "features", min_rows=1)
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"labels must be 1-D with one label per point ({len(x)}); got shape "
            f"{y.shape}. Pass the labels of the same points as the features."
        )
    n = len(x)
    if n < 10:
        raise ValueError(f"knn_accuracy needs at least 10 points; got {n}. Use a larger sample.")
    k = check_int(k, "k", 1)
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
    seed = as_seed(random_state)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        scores = cross_val_score(KNeighborsClassifier(n_neighbors=k), x, y, cv=cv)
    return float(np.mean(scores))
