""""Over training" (Representations page): one layer's map, animated over the recorded epochs
(Plotly frames, play/pause, an epoch slider, every frame on the same axes), the frames
appearing as they are computed, k-NN accuracy of every layer per epoch, the trustworthiness of
the picked layer's frames, and the exports (frames CSV, animation HTML)."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.recording import Recording, replay_unavailable
from analysis.replay import ReplayResult, frames_csv
from dashboard.core import chart_text, figures, formats, model_choice, session_models
from dashboard.core.chrome import presenting
from dashboard.core.figures import NO_BAR, chart
from dashboard.core.palette import CLASS_COLOURS
from dashboard.core.session_models import SessionModel
from dashboard.representations import replay_controls
from dashboard.representations import replay_state as rps
from dashboard.representations.view import cluster_labels, preview_labels, selected_ids, selection_grid

PLAY_MS = 800  # one frame on screen, then a 400 ms glide to the next


def colour(k: int) -> str:
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def predictions(recording: Recording) -> tuple[np.ndarray, np.ndarray]:
    """(frames, n) predicted class and its probability at every recorded epoch (from the recorded
    'probabilities' layer; the true labels with probability NaN when it was not recorded)."""
    probs = recording.layers.get("probabilities")
    if probs is None or probs.shape[2] < int(recording.labels.max()) + 1:
        n = recording.n_frames
        return np.tile(recording.labels, (n, 1)), np.full((n, recording.n_points), np.nan)
    p = probs.astype(np.float32)
    return p.argmax(2), p.max(2)


def _traces(coords: np.ndarray, recording: Recording, pred: np.ndarray, conf: np.ndarray, names,
            full: bool) -> list[go.Scatter]:
    """One trace per true class (the same order in every frame); misclassified points as ×."""
    out = []
    for k, name in enumerate(names):
        rows = np.flatnonzero(recording.labels == k)
        symbols = np.where(pred[rows] != k, "x", "circle").tolist()
        custom = [[int(recording.indices[r]), str(names[pred[r]]), float(np.nan_to_num(conf[r]))] for r in rows]
        trace = dict(x=coords[rows, 0].tolist(), y=coords[rows, 1].tolist(), customdata=custom,
                     marker=dict(symbol=symbols))
        if full:
            trace.update(mode="markers", name=str(name), legendgroup=str(name), showlegend=False,
                         marker=dict(symbol=symbols, color=colour(k), size=7, line=dict(width=0)),
                         hovertemplate=(f"image #%{{customdata[0]}}<br>true: {name}<br>predicted: %{{customdata[1]}}"
                                        "<br>confidence: %{customdata[2]:.0%}<extra></extra>"))
        out.append(go.Scatter(**trace))
    return out


def _legend(names) -> list[go.Scatter]:
    """The legend, the same at every frame: one dot per true digit and the × for a misread digit
    (drawn apart from the data, whose first point would otherwise set each entry's marker: epoch 0's)."""
    keys = [go.Scatter(x=[None], y=[None], mode="markers", name=str(name), legendgroup=str(name),
                       marker=dict(symbol="circle", color=colour(k), size=9)) for k, name in enumerate(names)]
    return keys + [go.Scatter(x=[None], y=[None], mode="markers", name="× misread at this epoch",
                              marker=dict(symbol="x", color="#555555", size=9))]


def frame_text(result: ReplayResult, knn: dict | None, f: int) -> str:
    """The numbers of frame f, printed beside the map: epoch, the layer's k-NN accuracy, trustworthiness."""
    parts = [f"epoch {result.epochs[f]}"]
    values = (knn or {}).get(result.layer)
    if values is not None and f < len(values):
        parts.append(f"k-NN accuracy {formats.accuracy(values[f])}")
    parts.append(f"trustworthiness {result.trust[f]:.3f}")
    return " · ".join(parts)


def _note(text: str) -> dict:
    return dict(text=text, x=0, y=1.0, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
                showarrow=False, font=dict(size=15), bgcolor="rgba(255,255,255,0.85)")


def _digit_labels(coords: np.ndarray, labels: np.ndarray, names) -> list[dict]:
    """Each digit written at the middle of its cluster on this frame (colour is not the only cue)."""
    return [dict(x=mx, y=my, xshift=dx, yshift=dy, text=f"<b>{html.escape(str(names[k]))}</b>", showarrow=False,
                 font=dict(size=15, color="#000000"), bgcolor="rgba(255,255,255,0.8)", bordercolor=colour(k),
                 borderwidth=2, borderpad=4)
            for k, (mx, my, dx, dy) in cluster_labels(coords, labels, len(names)).items()]


def _controls(epochs, start: int = 0) -> tuple[list, list]:
    play = dict(frame=dict(duration=PLAY_MS, redraw=False), fromcurrent=True,
                transition=dict(duration=PLAY_MS // 2, easing="cubic-in-out"))
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate", transition=dict(duration=0))
    menus = [dict(type="buttons", direction="left", showactive=False, x=0, y=-0.02, xanchor="left", yanchor="top",
                  pad=dict(t=10, r=10), buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                                 dict(label="❚❚ Pause", method="animate", args=[[None], pause])])]
    sliders = [dict(active=start, x=0, len=1.0, y=-0.11, yanchor="top", pad=dict(t=10),
                    currentvalue=dict(prefix="epoch ", font=dict(size=16)),
                    steps=[dict(label=str(e), method="animate", args=[[f"epoch {e}"], pause]) for e in epochs])]
    return menus, sliders


def animation(result: ReplayResult, recording: Recording, names, title: str, height: int = 620,
              knn: dict | None = None, start: int = 0) -> go.Figure:
    """The layer's map at every computed frame, one set of axes for all, play/pause and a slider;
    each frame's numbers (k-NN accuracy of the layer, trustworthiness) printed on it. It shows frame `start`
    and stays there until ▶ Play or the slider is used (never plays by itself)."""
    pred, conf = predictions(recording)
    n, f0 = len(names), start
    fig = go.Figure(data=_traces(result.coords[f0], recording, pred[f0], conf[f0], names, full=True) + _legend(names),
                    frames=[go.Frame(name=f"epoch {e}", traces=list(range(n)),
                                     data=_traces(result.coords[f], recording, pred[f], conf[f], names, full=False),
                                     layout=dict(annotations=[_note(frame_text(result, knn, f)),
                                                              *_digit_labels(result.coords[f], recording.labels,
                                                                             names)]))
                            for f, e in enumerate(result.epochs)])
    (x0, x1), (y0, y1) = result.extent()
    menus, sliders = _controls(result.epochs, f0)
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=height, dragmode="lasso",
                      annotations=[_note(frame_text(result, knn, f0)),
                                   *_digit_labels(result.coords[f0], recording.labels, names)],
                      margin=dict(l=10, r=10, t=80, b=140), font=figures.FONT, legend_title_text="true digit",
                      legend=dict(itemsizing="constant"), updatemenus=menus, sliders=sliders)
    fig.update_xaxes(range=[x0, x1], autorange=False, showticklabels=False, title_text="", zeroline=False)
    fig.update_yaxes(range=[y0, y1], autorange=False, showticklabels=False, title_text="", zeroline=False)
    return fig


def preview(coords: np.ndarray, labels: np.ndarray, title: str, names=None) -> dict:
    """A light picture of the newest frame while the others are computed (a plain figure dict)."""
    return {"data": [{"type": "scattergl", "x": coords[:, 0].tolist(), "y": coords[:, 1].tolist(), "mode": "markers",
                      "hoverinfo": "skip", "marker": {"size": 5, "color": [colour(int(k)) for k in labels]}}],
            "layout": {"title": {"text": title, "font": {"size": 16}}, "height": 460, "showlegend": False,
                       "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
                       "annotations": preview_labels(coords, labels, names),  # the digits named, not only coloured
                       "xaxis": {"showticklabels": False}, "yaxis": {"showticklabels": False}}}


def knn_lines(knn: dict, epochs) -> go.Figure:
    """k-NN accuracy of every layer per recorded epoch: the layers pull the digits apart as they learn."""
    fig = go.Figure()
    dashes = ["dot", "solid", "dash", "dashdot", "longdash", "longdashdot"]
    for i, (name, values) in enumerate(knn.items()):
        fig.add_trace(go.Scatter(x=list(epochs), y=list(values), mode="lines+markers", name=name,
                                 line=dict(width=3, dash=dashes[i % len(dashes)]), marker=dict(size=7)))
    fig.update_xaxes(title_text="epoch (0 = before training)", dtick=1 if len(epochs) <= 21 else None)
    fig.update_yaxes(title_text="k-NN accuracy (k=5)", tickformat=".0%")
    fig.update_layout(title="k-NN accuracy of each layer", height=360,
                      margin=dict(l=10, r=10, t=50, b=10), font=figures.FONT, legend=dict(orientation="h", y=-0.3))
    return fig


def frames_table(result: ReplayResult, knn: dict | None):
    """Every frame's numbers as text: epoch, the layer's k-NN accuracy, the map's trustworthiness."""
    values = (knn or {}).get(result.layer)
    return pd.DataFrame(
        {
            "epoch": list(result.epochs),
            f"k-NN accuracy of {result.layer} (k=5)": [formats.accuracy(v) for v in values[: result.n_frames]]
            if values is not None
            else ["n/a"] * result.n_frames,
            "trustworthiness of the frame (k=10)": [f"{t:.3f}" for t in result.trust],
        }
    )


def trust_line(result: ReplayResult) -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(result.epochs), y=list(result.trust), mode="lines+markers",
                               line=dict(width=3, color=figures.TRAIN), marker=dict(size=8), name="trustworthiness",
                               hovertemplate="epoch %{x}: %{y:.3f}<extra></extra>"))
    fig.update_xaxes(title_text="epoch (0 = before training)", dtick=1 if result.n_frames <= 21 else None)
    fig.update_yaxes(title_text="trustworthiness (k=10)", range=[min(0.8, min(result.trust) - 0.02), 1.0])
    fig.update_layout(title="Trustworthiness of each frame", height=360,
                      margin=dict(l=10, r=10, t=50, b=10), font=figures.FONT)
    return fig


# ---------------------------------------------------------------- the page part

def _models() -> dict[str, SessionModel]:
    mine = session_models.models()
    if mine:
        return dict(mine)
    return model_choice.session_or_defaults(
        lambda sm: sm.trained.recording is not None, ("mlp",),
        "No model trained in this session yet: training the default multilayer perceptron (a few seconds).")[0]


def _running(job, recording: Recording, title: str, names=None) -> None:
    """The newest frame and the progress, redrawn every two seconds until the replay ends."""
    @st.fragment(run_every=2.0)
    def live() -> None:
        if job.is_finished:
            st.rerun()
        st.button("Stop", key="rep_replay_stop", on_click=rps.stop, args=(job.key,), icon=":material/stop:",
                  help="Stop after the frame being computed; the frames so far are kept and can be played.")
        st.progress(job.progress, text=f"Computing the frames: {job.message}")
        latest = job.latest if isinstance(job.latest, dict) else None
        if latest:
            epoch = recording.epochs[latest["frame"] - 1]
            chart(st, preview(latest["coords"], recording.labels, f"{title}<br><sup>epoch {epoch}, still computing"
                                                                       "</sup>", names),
                  chart_text.map_preview(f"{title}, epoch {epoch}", recording.labels),
                  key="rep_replay_live", config=NO_BAR)

    live()
    st.stop()


def _selection(sm: SessionModel, recording: Recording) -> None:

    s = rps.replay_state()
    if "rep_replay_map" in st.session_state:
        s.lasso = selected_ids(st.session_state["rep_replay_map"])
    names = list(sm.trained.class_names)
    by_label = replay_controls.by_label_ui(names)  # the keyboard's way to a cluster's digits
    if not s.lasso and not by_label:
        st.caption("Draw a lasso or a box on the map (at any epoch), or select labels above, to see those digits.")
        return
    rows = [i for i, index in enumerate(recording.indices)
            if int(index) in s.lasso or names[recording.labels[i]] in by_label]
    pred = predictions(recording)[0][-1]
    st.subheader("What is in your selection?")
    selection_grid(rows, recording.images.astype(np.float32) / 255, recording.labels, pred, names)


def _finished(sm: SessionModel, out: dict, title: str) -> None:
    result, recording, names = out["result"], sm.trained.recording, list(sm.trained.class_names)
    if not result.complete:
        st.warning(f"Stopped: {result.status}. These frames play; change a setting to compute another replay.",
                   icon=":material/stop_circle:")
    frame = replay_controls.frame_ui(result.epochs)
    fig = animation(result, recording, names, f"{title}<br><sup>{result.status} · press ▶ Play or drag the "
                                                 "slider</sup>", knn=out["knn"], start=frame)
    chart(st, fig, chart_text.replay(result.layer, result.epochs, result.trust, (out["knn"] or {}).get(result.layer)),
          table=frames_table(result, out["knn"]), key="rep_replay_map", on_select="rerun",
          selection_mode=("lasso", "box", "points"))
    a, b = st.columns(2)
    a.download_button("Download the animation (HTML)", data=lambda: fig.to_html(include_plotlyjs=True, auto_play=False),
                      file_name="netlens-over-training.html", mime="text/html", icon=":material/download:",
                      key="rep_replay_html", help="A standalone web page that plays the animation.")
    b.download_button(
        "Download the frames (CSV)",
        data=lambda: frames_csv(result, recording, names),
        file_name="netlens-over-training.csv",
        mime="text/csv",
        icon=":material/download:",
        key="rep_replay_csv",
        help="Every digit's place on every frame: frame, epoch, index, label, x, y.",
    )
    st.table(frames_table(result, out["knn"]), hide_index=True)
    _selection(sm, recording)
    st.subheader("The numbers beside the picture")

    c, d = (st, st) if presenting() else st.columns(2)  # a projector needs the whole width for each
    chart(c, knn_lines(out["knn"], recording.epochs), chart_text.knn_layers(out["knn"], recording.epochs),
          config=NO_BAR, key="rep_replay_knn")
    chart(d, trust_line(result), chart_text.trust_frames(result.epochs, result.trust), config=NO_BAR,
          key="rep_replay_trust")
    first, second = ("Above", "Below") if presenting() else ("Left", "Right")
    st.caption(f"{first}: can a digit's 5 nearest neighbours, in each layer's own numbers, tell its label? The hidden "
               f"layers pull the digits apart as they learn (the pixels never change). {second}: does each frame of "
               f"{result.layer}'s map keep the layer's true neighbours (1 = all kept)?")


def page() -> None:
    """Pick a model and one layer, then watch its map over the recorded epochs."""
    st.markdown("Training was **recorded**: after every epoch, each layer's output for the same 1,000 test digits. "
                "Pick a layer and press ▶ Play: each frame starts from the one before, so a dot only moves where "
                "the layer changed.")
    sm = replay_controls.model_ui(_models())
    recording = sm.trained.recording
    why = replay_unavailable(recording)
    if why:
        rps.detach()
        st.info(why, icon=":material/videocam_off:")
        return
    layer, config = replay_controls.settings_ui(recording)
    title = f"{layer} — {'t-SNE' if config.method == 'tsne' else 'PCA'} over training"
    try:
        job = rps.submit(sm, layer, config)
    except RuntimeError as e:  # the server's queue is full
        st.error(str(e))
        return
    if not job.is_finished:
        _running(job, recording, title, list(sm.trained.class_names))  # stops the page
    if job.status != "done":
        st.warning(f"The replay did not finish: {job.error or job.status}. Change a setting to run it again.")
        return
    _finished(sm, job.result, title)
