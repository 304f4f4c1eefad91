"""Representations' state: the session object (`RepresentationsState`: watched map jobs, the
memoised features, the maps' lasso selection), the features per layer, and the map jobs in the
server-wide registry (the job's function is built in `_project`). Identical requests share a job."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from analysis import embedding, jobs
from analysis.models import representations
from dashboard import session
from dashboard.runtime import session_id
from dashboard.session_models import SessionModel

REGISTRY = jobs.shared_registry("tsne", max_workers=1, max_entries=64, max_age_s=6 * 3600)
METRIC_SAMPLE = 2_000  # trustworthiness and k-NN accuracy on at most this many points (O(n²) memory)
KEY = "representations"
WIDGETS = ("rep_",)  # its widgets' keys


@dataclass
class RepresentationsState:
    jobs: set[str] = field(default_factory=set)  # keys of the map jobs this session watches
    features: dict = field(default_factory=dict)  # (model, sample) -> every layer's output; at most 2
    lasso: dict[str, set[int]] = field(default_factory=dict)  # map widget key -> image ids drawn around
    restored: set[str] = field(default_factory=set)  # maps redrawn after a page switch, showing `lasso`


def representations_state(session_state=None) -> RepresentationsState:
    return session.get(KEY, RepresentationsState, session_state)


def _detach(s: RepresentationsState) -> None:
    for key in s.jobs:
        REGISTRY.detach(key, session_id())
    s.jobs = set()


def reset() -> None:
    """Start over on Representations: stop watching the maps (unwatched ones are cancelled),
    forget the settings and selections."""
    session.reset(KEY, WIDGETS, _detach)


@dataclass(frozen=True)
class MapSpec:
    """One panel: a representation projected with one set of parameters."""
    rep: str
    method: str  # 'tsne' | 'pca'
    perplexity: float = 30.0
    n_iter: int = 750
    seed: int = 0

    @property
    def title(self) -> str:
        if self.method == "pca":
            return f"{self.rep} — PCA"
        return f"{self.rep} — t-SNE (perplexity {self.perplexity:g}, seed {self.seed})"

    @property
    def plot_title(self) -> str:
        if self.method == "pca":
            return f"{self.rep}<br><sup>PCA</sup>"
        return f"{self.rep}<br><sup>t-SNE, perplexity {self.perplexity:g}, seed {self.seed}</sup>"


def model_key(sm: SessionModel) -> str:
    t = sm.trained
    return t.key + (f"-stopped{len(t.history.rows)}" if t.history.stopped else "")


def sample(sm: SessionModel, n: int, seed: int) -> np.ndarray:
    """Indices into the dataset: a stratified sample of the test and validation digits."""
    split = sm.trained.split
    pool = np.concatenate([split.test, split.val])
    return pool[embedding.stratified_sample(sm.dataset.labels[pool], n, random_state=seed)]


def features(sm: SessionModel, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Every representation of the sampled images, memoised in this session."""
    key = (model_key(sm), hashlib.sha1(idx.tobytes()).hexdigest())
    memo = representations_state().features
    if key not in memo:
        while len(memo) >= 2:  # the names probe (20 digits) and the sample shown
            memo.pop(next(iter(memo)))
        memo[key] = representations(sm.trained.model, sm.dataset.images[idx])
    return memo[key]


def _separation(x: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    sub = embedding.stratified_sample(labels, METRIC_SAMPLE, random_state=0)
    x, coords, labels = x[sub], coords[sub], labels[sub]
    return {"trustworthiness (k=10)": embedding.trustworthiness(x, coords, k=10),
            "k-NN accuracy, original (k=5)": embedding.knn_accuracy(x, labels, k=5),
            "k-NN accuracy, map (k=5)": embedding.knn_accuracy(coords, labels, k=5)}


def _project(job: jobs.Job, x: np.ndarray, labels: np.ndarray, spec: MapSpec) -> dict:
    if spec.method == "pca":
        coords, ratio = embedding.pca(x, 2)
        return {"coords": coords, "explained": ratio, "metrics": _separation(x, coords, labels)}

    def progress(iteration: int, current: np.ndarray) -> bool:
        job.report(iteration / spec.n_iter, f"iteration {iteration} of {spec.n_iter}", current)
        return not job.should_stop()

    coords = embedding.tsne(x, spec.perplexity, spec.n_iter, spec.seed, on_progress=progress)
    return {"coords": coords, "explained": None, "metrics": _separation(x, coords, labels)}


def submit(sm: SessionModel, idx: np.ndarray, spec: MapSpec) -> jobs.Job:
    """Start (or join) the projection of one panel. Identical requests share the result."""
    x = features(sm, idx)[spec.rep]
    labels = sm.dataset.labels[idx]
    key = hashlib.sha256(repr((model_key(sm), idx.tobytes(), spec)).encode()).hexdigest()[:20]
    return REGISTRY.submit(key, spec.title, lambda job: _project(job, x, labels, spec), session_id())


def watch_only(current: list[jobs.Job]) -> None:
    """Stop watching maps this session no longer shows (settings changed): unwatched ones are cancelled."""
    s = representations_state()
    keep = {j.key for j in current}
    for key in s.jobs - keep:
        REGISTRY.detach(key, session_id())
    s.jobs = keep


def stop_all() -> None:
    _detach(representations_state())
