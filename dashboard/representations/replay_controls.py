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
from dashboard.representations import defaults
from dashboard.representations import replay_state as rps


def model_ui(models: dict[str, SessionModel]) -> SessionModel:
    """The model (sidebar); a model handed over from Training is picked first, else the one chosen
    for the maps ("Maps of a trained model") until the person picks one here."""
    s = rps.replay_state()
    names = list(models)
    if s.incoming_model in names:
        st.session_state["rep_replay_model"] = s.incoming_model
    elif "rep_replay_model" not in st.session_state and st.session_state.get("rep_model") in names:
        st.session_state["rep_replay_model"] = st.session_state["rep_model"]
    s.incoming_model = None
    model_choice.keep_choice("rep_replay_model", names, many=False)
    with st.sidebar:
        name = st.selectbox("Model", names, index=len(names) - 1, key="rep_replay_model", persist_state=PERSIST,
                            help="A model of this session; its training was recorded after every epoch.")
    return models[name]


def maps_layer(layers: list[str]) -> str:
    """The layer the maps show first (the person's chosen representations, else the maps' defaults),
    skipping the pixels (their map never changes)."""
    chosen = st.session_state.get("rep_reps") or defaults.default_layers(layers)
    return next((n for n in chosen if n in layers and n != "pixels"),
                next((n for n in layers if n.startswith(("hidden layer 1", "conv block 1"))), layers[-1]))


def settings_ui(recording: Recording) -> tuple[str, ReplayConfig]:
    layers = recording.layer_names
    default = maps_layer(layers)
    if st.session_state.get("rep_replay_layer") not in layers:
        st.session_state.pop("rep_replay_layer", None)
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


def _step(delta: int, n: int) -> None:
    frame = int(st.session_state.get("rep_replay_frame", 0)) + delta
    st.session_state["rep_replay_frame"] = min(n - 1, max(0, frame))


def frame_ui(epochs) -> int:
    """The frame the map shows, by buttons or the arrow keys (the keyboard's way through the replay; nothing moves
    by itself: ▶ Play on the map plays only when pressed). Returns the frame's index."""
    n = len(epochs)
    if int(st.session_state.get("rep_replay_frame", 0)) >= n:
        st.session_state["rep_replay_frame"] = n - 1
    back, on, which = st.columns([1, 1, 3], vertical_alignment="bottom")
    back.button("◀ Earlier epoch", key="rep_replay_back", on_click=_step, args=(-1, n), width="stretch",
                help="Show the map one recorded epoch earlier.")
    on.button("Later epoch ▶", key="rep_replay_next", on_click=_step, args=(1, n), width="stretch",
              help="Show the map one recorded epoch later.")
    return which.select_slider("Epoch on the map", options=list(range(n)), key="rep_replay_frame",
                               format_func=lambda f: f"epoch {epochs[f]}",
                               help="Step through the frames with the arrow keys; ▶ Play on the map plays them all.")


def by_label_ui(names: list[str]) -> list[str]:
    """Select digits by their true label: the keyboard's way to a cluster (the lasso needs a pointer)."""
    return st.multiselect("Select by true label", names, key="rep_replay_sel_true",
                          help="Keyboard-friendly selection: see every digit of the map with these true labels.")
