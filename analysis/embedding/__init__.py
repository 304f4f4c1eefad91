"""Embeddings of a layer's output: t-SNE, PCA, and how well a 2-D map keeps
the classes apart.

Pure Python (NumPy, SciPy, scikit-learn, openTSNE, PyTorch): no Streamlit.
Modules: checks, pca_map, tsne_map (the front door), opentsne_backend,
torch_backend, metrics, sampling. Import the names below from
``analysis.embedding``.

- ``tsne`` maps n points to 2-D. On a CPU it runs openTSNE (exact k-nearest
  neighbours, FFT-accelerated gradients, the idle cores); with a CUDA GPU it runs an
  exact t-SNE written in PyTorch. Both reduce the input to 50 dimensions with
  PCA first (when it has more), start from the first two principal
  components, and report progress through ``on_progress``. ``n_jobs`` fixes
  openTSNE's thread count (default: the idle cores).
- ``pca`` gives 2-D (or k-D) coordinates and the share of variance each
  component explains.
- ``trustworthiness`` (is a point's map neighbourhood made of its true
  neighbours?) and ``knn_accuracy`` (can its neighbours tell its label?)
  measure how well a representation, or its map, separates the classes.
- ``stratified_sample`` picks the points to show; ``sample_size_bounds`` gives
  the page its slider range.

Errors are ``ValueError`` with what was expected, what came and how to fix it.
"""
from analysis.embedding.checks import max_perplexity
from analysis.embedding.metrics import knn_accuracy, trustworthiness
from analysis.embedding.pca_map import pca
from analysis.embedding.sampling import sample_size_bounds, stratified_sample
from analysis.embedding.tsne_map import (
                                         EARLY_EXAGGERATION,
                                         EARLY_EXAGGERATION_ITER,
                                         PCA_DIMS,
                                         PROGRESS_EVERY,
                                         cuda_available,
                                         resolve_device,
                                         tsne,
)

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
