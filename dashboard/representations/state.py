"""Representations' state: the session object (`RepresentationsState`: watched map jobs, the
maps' lasso selection), the features per layer (shared by every session), and the map jobs in the
server-wide registry (each map runs as the `project` task in a worker process, dashboard.core.server).
Identical requests share a job."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from analysis import embedding
from analysis.compute import jobs, tasks
from analysis.datasets import load_dataset
from analysis.models import representations
from dashboard.core import server, session
from dashboard.core.runtime import session_id
from dashboard.core.session_models import SessionModel, model_key
from dashboard.representations import defaults

# Job threads wait on dashboard.core.server's worker processes: maps run there, as many at once as there are workers
# (with NETLENS_RAY_ADDRESS: on the Ray cluster, the threads only watch them).
REGISTRY = jobs.shared_registry("tsne", max_workers=server.JOB_THREADS, max_entries=64, max_age_s=6 * 3600)
METRIC_SAMPLE = tasks.METRIC_SAMPLE
KEY = "representations"
WIDGETS = ("rep_",)  # its widgets' keys


@dataclass
class RepresentationsState:
    jobs: set[str] = field(default_factory=set)  # keys of the map jobs this session watches
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


def sample(sm: SessionModel, n: int, seed: int) -> np.ndarray:
    """Indices into the dataset: a stratified sample of the test and validation digits."""
    split = sm.trained.split
    pool = np.concatenate([split.test, split.val])
    return pool[embedding.stratified_sample(sm.dataset.labels[pool], n, random_state=seed)]


def representation_names(sm: SessionModel) -> list[str]:
    """The model's representations, by name (from a tiny sample)."""
    return list(features(sm, sample(sm, 20, 0)))


def features(sm: SessionModel, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Every representation of the sampled images (read-only), computed once per server for a
    model and a sample: a class looking at the same model's maps shares them (~10 MB each)."""
    return _shared_features((model_key(sm), hashlib.sha1(idx.tobytes()).hexdigest()), sm, idx)


@st.cache_resource(show_spinner=False, max_entries=8)
def _shared_features(key: tuple, _sm: SessionModel, _idx: np.ndarray) -> dict[str, np.ndarray]:
    out = representations(_sm.trained.model, _sm.dataset.images[_idx])
    for value in out.values():
        value.setflags(write=False)
    return out


def submit(sm: SessionModel, idx: np.ndarray, spec: MapSpec) -> jobs.Job:
    """Start (or join) the projection of one panel. Identical requests share the result."""
    return _submit(sm, idx, spec, features(sm, idx)[spec.rep], session_id())


def _submit(sm: SessionModel, idx: np.ndarray, spec: MapSpec, x: np.ndarray, holder: str) -> jobs.Job:
    labels = sm.dataset.labels[idx]
    key = hashlib.sha256(repr((model_key(sm), idx.tobytes(), spec)).encode()).hexdigest()[:20]
    kwargs = {"features": x, "labels": labels, "method": spec.method, "perplexity": spec.perplexity,
              "n_iter": spec.n_iter, "seed": spec.seed}
    fn = server.job("project", kwargs, nbytes=tasks.map_estimate(len(x), int(np.prod(x.shape[1:])), spec.method,
                                                                 spec.perplexity),
                    label=f"map: {spec.title}", holder=holder, hint="try fewer points")
    return REGISTRY.submit(
        key, spec.title, fn, holder
    )  # a map job: in a worker process (analysis.compute.tasks.project)


def default_specs(reps: list[str], n: int) -> list[MapSpec]:
    """The page's default maps (representations_controls.settings_ui untouched): t-SNE of the
    pixels, the first hidden layer and the logits, perplexity 30 (less for few points), seed 0."""
    perplexity = defaults.default_perplexity(n)
    return [MapSpec(r, "tsne", perplexity, defaults.ITERATIONS, defaults.SEED) for r in defaults.default_layers(reps)]


def warm_maps(trained: list, holder: str = "server warm-up", timeout_s: float = 3600.0) -> list[jobs.Job]:
    """At server start, after the default models: the Representations page's default maps of
    the default multilayer perceptron, as the server's own jobs. Waits for them."""
    started = []
    for t in (t for t in trained if t.model_config.kind == "mlp" and t.split is not None):
        sm = SessionModel("default", t, load_dataset(t.dataset_name))
        n_pool = len(t.split.test) + len(t.split.val)
        n = defaults.sample_bounds(n_pool, embedding.cuda_available())[1]
        idx = sample(sm, n, 0)
        reps = representations(t.model, sm.dataset.images[idx])
        started += [_submit(sm, idx, spec, reps[spec.rep], holder) for spec in default_specs(list(reps), n)]
    for job in started:
        job.wait(timeout_s)
    return started


def watch_only(current: list[jobs.Job]) -> None:
    """Stop watching maps this session no longer shows (settings changed): unwatched ones are cancelled."""
    s = representations_state()
    keep = {j.key for j in current}
    for key in s.jobs - keep:
        REGISTRY.detach(key, session_id())
    s.jobs = keep


def detach() -> None:
    """Stop watching every map of this session (unwatched ones are cancelled)."""
    _detach(representations_state())
