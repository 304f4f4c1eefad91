""""Over training"'s controls (Representations page): the model and the replay's settings, sidebar
widgets keyed 'rep_replay_' (kept for the session with `persist_state`, forgotten by
replay_state.reset), each returning plain values."""
from __future__ import annotations

import streamlit as st

from analysis.recording import Recording
from analysis.replay import METHODS, ReplayConfig
from dashboard.core import model_choice
from dashboard.core.session import PERSIST
from dashboard.core.session_models import SessionModel
from dashboard.representations import replay_state as rps


def model_ui(models: dict[str, SessionModel]) -> SessionModel:
    """The model (sidebar); a model handed over from Training is picked first."""
    s = rps.replay_state()
    names = list(models)
    if s.incoming_model in names:
        st.session_state["rep_replay_model"] = s.incoming_model
    s.incoming_model = None
    model_choice.keep_choice("rep_replay_model", names, many=False)
    with st.sidebar:
        name = st.selectbox("Model", names, index=len(names) - 1, key="rep_replay_model", persist_state=PERSIST,
                            help="A model of this session; its training was recorded after every epoch.")
    return models[name]


def settings_ui(recording: Recording) -> tuple[str, ReplayConfig]:
    layers = recording.layer_names
    default = next((n for n in layers if n.startswith(("hidden layer 1", "conv block 1"))), layers[-1])
    with st.sidebar:
        layer = st.selectbox("Layer", layers, index=layers.index(default), key="rep_replay_layer",
                             persist_state=PERSIST, help="Whose map to watch. The pixels do not change: a still map.")
        method = st.radio("Projection", list(METHODS), key="rep_replay_method", persist_state=PERSIST,
                          horizontal=True, format_func={"tsne": "t-SNE", "pca": "PCA"}.get,
                          help=" ".join(METHODS.values()))
        st.session_state.setdefault("rep_replay_seed", 0)
        seed = int(st.number_input("Seed", 0, 10_000, key="rep_replay_seed", persist_state=PERSIST,
                                   help="Fixes the first map's random start: same seed, same frames."))
    return layer, ReplayConfig(method=method, seed=seed)
