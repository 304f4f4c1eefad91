""""Over training" state: the session object (`ReplayState`: the watched replay job, the model
handed over from Training, the lasso), and the replay jobs, in the same server-wide registry as
the maps (one shared job per model, layer and settings), run like them through the server's job
back end (a worker process, or the cluster: dashboard.core.server.job). Stop ends a replay as a
complete result "stopped at frame k" (status done), which every later request for the same
replay reuses (on the cluster, through the shared store)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from analysis.compute import jobs
from analysis.compute.tasks import map_estimate
from analysis.replay import ReplayConfig, replay_key
from dashboard.core import server, session
from dashboard.core.runtime import session_id
from dashboard.core.session_models import SessionModel, model_key
from dashboard.representations.state import REGISTRY

KEY = "replay"
WIDGETS = ("rep_replay_",)  # its widgets' keys


@dataclass
class ReplayState:
    job: str | None = None              # key of the replay job this session watches
    incoming_model: str | None = None   # a model handed over from Training's results ("Watch it learn")
    lasso: set[int] = field(default_factory=set)  # dataset indices drawn around on the animated map


def replay_state(session_state=None) -> ReplayState:
    return session.get(KEY, ReplayState, session_state)


_STOPS: dict[str, threading.Event] = {}  # replay key -> "stop after this frame", for jobs running now
_STOPS_LOCK = threading.Lock()


def _stop_event(key: str) -> threading.Event:
    with _STOPS_LOCK:
        for k in [k for k in _STOPS if (REGISTRY.get(k) is None or REGISTRY.get(k).is_finished) and k != key]:
            del _STOPS[k]  # finished jobs need no stop button
        return _STOPS.setdefault(key, threading.Event())


def submit(sm: SessionModel, layer: str, config: ReplayConfig) -> jobs.Job:
    """Start (or join) the replay of one layer of a model's recording and watch it (only it)."""

    key = replay_key(model_key(sm), layer, config)
    stop = _stop_event(key)
    recording, label = sm.trained.recording, f"{sm.name}: {layer} over training"
    dims = recording.pixels.shape[1] if layer == "pixels" else recording.layers[layer].shape[2]
    fn = server.job("replay", {"recording": recording, "layer": layer, "config": config}, label=label,
                    nbytes=map_estimate(recording.n_points, dims, config.method, config.perplexity),
                    should_finish=stop.is_set)
    job = REGISTRY.submit(key, label, fn, session_id())
    s = replay_state()
    if s.job is not None and s.job != key:
        REGISTRY.detach(s.job, session_id())
        s.lasso = set()
    s.job = key
    return job


def stop(key: str) -> None:
    """Stop the replay after the frame it is computing: the frames so far become its result."""
    with _STOPS_LOCK:
        event = _STOPS.get(key)
    if event is not None:
        event.set()


def _detach(s: ReplayState) -> None:
    if s.job is not None:
        REGISTRY.detach(s.job, session_id())
        s.job = None


def detach() -> None:
    """Stop watching the replay (an unwatched one is cancelled)."""
    _detach(replay_state())


def reset() -> None:
    """Start over on Representations: stop watching the replay, forget its settings and its lasso selection."""
    session.reset(KEY, WIDGETS, _detach)
