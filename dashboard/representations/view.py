"""What Representations draws: the maps (live previews while they form, then linked scatter
plots whose lasso selection is kept in the feature's state), the separation table, the
downloads and the selection's image grid."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.core import alt_images, chart_text, chrome, figures, formats
from dashboard.core.figures import chart
from dashboard.core.session import PERSIST
from dashboard.core.session_models import SessionModel
from dashboard.representations import state as rs
from dashboard.representations.state import RepresentationsState, detach


def scatter(coords: np.ndarray, labels: np.ndarray, pred: np.ndarray, conf: np.ndarray, ids: np.ndarray,
            class_names, title: str, selected: set[int] | None = None, height: int = 460) -> go.Figure:
    """One trace per true class (colour-blind-safe colours); misclassified points as ×;
    hover: index, true label, prediction, confidence. customdata carries the row id."""
    fig = go.Figure()
    for k, name in enumerate(class_names):
        rows = np.flatnonzero(labels == k)
        if not len(rows):
            continue
        wrong = pred[rows] != k
        sel = None if selected is None else [i for i, r in enumerate(rows) if int(ids[r]) in selected]
        fig.add_trace(go.Scattergl(
            x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=str(name),
            marker=dict(color=figures.class_colour(k), size=np.where(wrong, 9, 6).tolist(),
                        symbol=np.where(wrong, "x", "circle").tolist(), line=dict(width=0)),
            customdata=[[int(ids[r]), str(class_names[pred[r]]), float(conf[r])] for r in rows],
            hovertemplate=(f"image #%{{customdata[0]}}<br>true: {name}<br>predicted: %{{customdata[1]}}"
                           "<br>confidence: %{customdata[2]:.0%}<extra></extra>"),
            selectedpoints=sel, unselected=dict(marker=dict(opacity=0.12)),
        ))
    fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name="× predicted wrong", hoverinfo="skip",
                               marker=dict(symbol="x", color="#000000", size=9)))  # the legend explains the ×
    for k, (mx, my, xshift, shift) in cluster_labels(coords, labels, len(class_names)).items():
        # the digit written at its cluster's middle (colour is not the only cue), nudged apart where they meet
        fig.add_annotation(
            x=mx,
            y=my,
            xshift=xshift,
            yshift=shift,
            text=f"<b>{html.escape(str(class_names[k]))}</b>",
            showarrow=False,
            font=dict(size=15, color="#000000"),
            bgcolor="rgba(255,255,255,0.8)",
            bordercolor=figures.class_colour(k),
            borderwidth=2,
            borderpad=5,
        )
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=height, dragmode="lasso",
                      margin=dict(l=10, r=10, t=50, b=10), font=figures.FONT, legend_title_text="true digit",
                      legend=dict(itemsizing="constant"))
    fig.update_xaxes(showticklabels=False, title_text="")
    fig.update_yaxes(showticklabels=False, title_text="", scaleanchor="x")
    return fig


def cluster_labels(coords: np.ndarray, labels: np.ndarray, n_classes: int, box_px: float = 56,
                   plot_px: float = 180) -> dict[int, tuple[float, float, int, int]]:
    """Where to write each digit: its cluster's median, shifted (in pixels, for a map at least
    `plot_px` across) to the nearest spot where its label box clears the labels placed before it.
    Returns class -> (x, y, xshift, yshift)."""
    lo, span = coords.min(0), np.ptp(coords, 0).max() or 1.0
    spots = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0)]  # a label stays by its cluster, inside the map
    placed, out = [], {}
    for k in range(n_classes):
        rows = np.flatnonzero(labels == k)
        if not len(rows):
            continue
        mx, my = np.median(coords[rows], axis=0)
        px, py = (np.array([mx, my]) - lo) / span * plot_px
        for dx, dy in spots:
            x, y = px + dx * box_px, py + dy * box_px
            if all(abs(x - qx) >= box_px or abs(y - qy) >= box_px for qx, qy in placed):
                break
        placed.append((x, y))
        out[k] = (float(mx), float(my), int(dx * box_px), int(dy * box_px))
    return out


PREVIEW_POINTS = 800  # an intermediate map is drawn often, for many sessions: keep it light


def preview(coords: np.ndarray, labels: np.ndarray, title: str, names=None) -> dict:
    """A cheap picture of a map that is still forming: one trace, at most PREVIEW_POINTS
    points, colours by true label, no hover data. A plain figure dict; `running` makes it a
    go.Figure once per update: st.plotly_chart validates a dict on every call (~60 ms here, the
    colour of every point), a Figure it only copies (~10 ms), for every session every two seconds."""
    step = max(1, len(coords) // PREVIEW_POINTS)
    c, y = coords[::step], labels[::step]
    return {"data": [{"type": "scattergl", "x": c[:, 0].tolist(), "y": c[:, 1].tolist(), "mode": "markers",
                      "hoverinfo": "skip", "marker": {"size": 5, "color": [figures.class_colour(int(k)) for k in y]}}],
            "layout": {"title": {"text": title, "font": {"size": 16}}, "height": 420, "showlegend": False,
                       "margin": {"l": 10, "r": 10, "t": 50, "b": 10}, "annotations": preview_labels(c, y, names),
                       "xaxis": {"showticklabels": False}, "yaxis": {"showticklabels": False, "scaleanchor": "x"}}}


def preview_labels(coords: np.ndarray, labels: np.ndarray, names=None) -> list[dict]:
    """Each class written at its cluster's middle on a preview too (colour is not the only cue)."""
    n = int(labels.max()) + 1 if len(labels) else 0
    names = [str(k) for k in range(n)] if names is None else list(names)
    return [{"x": mx, "y": my, "xshift": dx, "yshift": dy, "text": f"<b>{html.escape(str(names[k]))}</b>",
             "showarrow": False,
             "font": {"size": 15, "color": "#000000"}, "bgcolor": "rgba(255,255,255,0.8)",
             "bordercolor": figures.class_colour(k), "borderwidth": 2}
            for k, (mx, my, dx, dy) in cluster_labels(coords, labels, n).items()]


def selected_ids(event) -> set[int]:
    points = event.selection.points if event and event.selection else []
    return {int(p["customdata"][0]) for p in points if p.get("customdata")}


CAUTION = ("**Read t-SNE with care.** It keeps near neighbours near, but the sizes of clusters and the distances "
           "between them mean little, and another perplexity or seed gives a different picture. Trust what "
           "survives those changes — compare three seeds or perplexities in the sidebar.")


def selection_grid(ids: list[int], images: np.ndarray, labels: np.ndarray, pred: np.ndarray, class_names) -> None:
    """The selected digits as pictures, and how many of each label."""
    counts = pd.DataFrame({"true label": [str(class_names[k]) for k in labels[ids]]}).value_counts().rename("digits")
    a, b = st.columns([1, 3])
    a.markdown(f"**{len(ids)} digits selected**")
    a.table(counts.reset_index(), hide_index=True)
    shown = sorted(np.random.default_rng(0).permutation(ids)[:60].tolist()) if len(ids) > 60 else ids  # a fair mix
    alt_images.show(b, [figures.enlarge((np.clip(images[i], 0, 1) * 255).astype(np.uint8), 56) for i in shown],
                    [f"Selected digit {i}, labelled {class_names[labels[i]]}"
                     + ("" if pred[i] == labels[i] else f", read as {class_names[pred[i]]}") for i in shown],
                    caption=[f"#{i}: {class_names[labels[i]]}"
                             + ("" if pred[i] == labels[i] else f"→{class_names[pred[i]]}") for i in shown], width=56)
    if len(ids) > len(shown):
        b.caption(f"Showing the first {len(shown)}.")


def running(job_list: list, specs: list, labels: np.ndarray, names=None) -> None:
    """Progress and a light preview of each map while any is still forming; stops the page."""
    @st.fragment(run_every=2.0)
    def live() -> None:
        if all(j.is_finished for j in job_list):
            st.rerun()
        st.button("Stop", key="rep_stop", on_click=detach, icon=":material/stop:",
                  help="Stop the maps that are still running (finished ones are kept).")
        cols = st.columns(min(2, len(job_list)))
        for i, (job, spec) in enumerate(zip(job_list, specs)):
            with cols[i % len(cols)]:
                st.progress(job.progress, text=f"{spec.title}: {job.message}")
                latest, version = job.latest, job.version
                if isinstance(latest, np.ndarray):  # built once per update for every watcher (figures.shared)
                    fig = figures.shared(("map preview", job.key, spec.plot_title, version),  # a Figure: validated once
                                         lambda: go.Figure(preview(latest, labels, spec.plot_title, names)))
                    chart(st, fig, chart_text.map_preview(spec.title, labels),
                          key=f"rep_live_{i}", config=figures.NO_BAR)

    live()
    st.stop()


def lasso_ids(n_maps: int) -> set[int]:
    """The image ids drawn around on the maps. A map drawn in the last run reports its own
    selection; a map that is new (back from another page) shows the kept one until the user
    selects again there (or clears it with the button)."""
    state = rs.representations_state()
    chosen: set[int] = set()
    for i in range(n_maps):
        key = f"rep_map_{i}"
        if key in st.session_state:
            ids = selected_ids(st.session_state[key])
            if ids or key not in state.restored:
                state.lasso[key] = ids
                state.restored.discard(key)
        elif state.lasso.get(key):
            state.restored.add(key)
        chosen |= state.lasso.get(key, set())
    if state.restored & {f"rep_map_{i}" for i in range(n_maps)}:
        st.button("Clear the selection on the maps", key="rep_clear", on_click=_clear, args=(state,),
                  icon=":material/deselect:", help="Forget the digits you drew around before.")
    return chosen


def _clear(state: RepresentationsState) -> None:
    state.lasso.clear()
    state.restored.clear()


def maps(done: list, ctx: dict, highlight: set[int] | None, keys: list[str]) -> None:
    """The finished maps, two per row, each selectable and downloadable. ``keys``: the maps'
    job keys (a map with nothing highlighted is one figure for every session: figures.shared)."""
    cols = st.columns(min(2, len(done)))
    for i, (spec, res) in enumerate(done):
        with cols[i % len(cols)]:
            title = spec.plot_title + ("" if res["explained"] is None else
                                       f"<sup>: {formats.probability(res['explained'].sum())} of the variance</sup>")
            def build(res=res, title=title):
                return scatter(res["coords"], ctx["labels"], ctx["pred"], ctx["conf"], ctx["idx"], ctx["names"], title,
                               highlight)

            fig = build() if highlight else figures.shared(("map", keys[i], title), build)
            chart(st, fig, chart_text.digit_map(spec.title, ctx["labels"], res["metrics"]),
                  key=f"rep_map_{i}", on_select="rerun", selection_mode=("lasso", "box", "points"))
            st.download_button("Download this map (HTML)", data=lambda fig=fig: fig.to_html(include_plotlyjs=True),
                               file_name=f"netlens-map-{i + 1}.html", mime="text/html", key=f"rep_html_{i}",
                               help="A standalone web page with the interactive map (the camera icon on the map "
                                    "saves a PNG).")
    st.caption("One dot per digit, coloured by its true label; the digit is written at the middle of its cluster, and "
               "a **×** marks a digit the model predicted wrong. Draw a lasso or a box to see those digits.")
    chrome.glossary_links("× on a map", "t-SNE", "PCA")


def separation_table(done: list, ctx: dict) -> None:
    """How well each map keeps the digits apart, and every point's coordinates as CSV."""
    st.subheader("How well each map keeps the digits apart")
    table = pd.DataFrame([{"map": spec.title, **res["metrics"]} for spec, res in done])
    numbers = [c for c in table.columns if c != "map"]
    st.table(table.style.format("{:.3f}", subset=numbers), hide_index=True)  # plain: every column shows, at any width
    st.caption("Trustworthiness: are a dot's neighbours on the map its true neighbours (1 = all)? k-NN accuracy: can "
               "the 5 nearest digits tell a digit's label, in the layer's own numbers and on the flat map?")
    chrome.glossary_links("Trustworthiness", "k-NN accuracy", "Perplexity")
    names = ctx["names"]
    coords = pd.DataFrame({"image": ctx["idx"], "true label": [names[k] for k in ctx["labels"]],
                           "predicted": [names[k] for k in ctx["pred"]], "confidence": ctx["conf"]})
    for i, (spec, res) in enumerate(done):
        coords[f"map{i + 1} x"], coords[f"map{i + 1} y"] = res["coords"][:, 0], res["coords"][:, 1]
    st.download_button("Download the coordinates (CSV)", coords.to_csv(index=False), "netlens-maps.csv", "text/csv",
                       icon=":material/download:", help="Every shown digit with its labels and its place on each map.")


def by_label_ui(ctx: dict) -> set[int]:
    """Keyboard-friendly selection by true label or prediction. Returns the image ids."""
    names = ctx["names"]
    a, b = st.columns(2)
    by_true = a.multiselect("Select by true label", names, key="rep_sel_true", persist_state=PERSIST,
                            help="Keyboard-friendly selection: highlight every digit with these true labels.")
    by_pred = b.multiselect("Select by prediction", names, key="rep_sel_pred", persist_state=PERSIST,
                            help="Highlight every digit the model predicts as one of these.")
    return {int(image_id) for k, image_id in enumerate(ctx["idx"])
            if names[ctx["labels"][k]] in by_true or names[ctx["pred"][k]] in by_pred}


def context(sm: SessionModel, n: int, seed: int) -> dict:
    """The sample the maps show: its dataset indices, true labels, the model's answers and their confidence."""
    idx = rs.sample(sm, n, seed)
    probs = rs.features(sm, idx)["probabilities"]
    return {"idx": idx, "labels": sm.dataset.labels[idx], "pred": probs.argmax(1), "conf": probs.max(1),
            "names": list(sm.dataset.class_names)}


def maps_run(sm: SessionModel, specs: list, ctx: dict) -> tuple[list, list[str]]:
    """Start (or join) one map job per panel and watch only these; while any runs, its progress (the page
    stops); a map that failed says why, with Retry. Returns ([(spec, result) done], their job keys)."""
    try:
        job_list = [rs.submit(sm, ctx["idx"], spec) for spec in specs]
    except RuntimeError as e:  # the server's queue is full
        st.error(str(e))
        st.stop()
    rs.watch_only(job_list)
    st.markdown(CAUTION)
    if not all(j.is_finished for j in job_list):
        running(job_list, specs, ctx["labels"], ctx["names"])  # stops the page
    failed = [j for j in job_list if j.status != "done"]
    if failed:
        st.warning("Some maps did not finish: " + "; ".join(f"{j.label}: {j.error or j.status}" for j in failed)
                   + ". Retry, or change a setting to run them again.")
        rs.detach()
        st.button("Retry", key="rep_retry", icon=":material/refresh:", help="Make the maps that did not finish again.")
    done = [(spec, job.result) for spec, job in zip(specs, job_list) if job.status == "done"]
    return done, [job.key for job in job_list if job.status == "done"]


def selection_ui(sm: SessionModel, ctx: dict, chosen: set[int]) -> None:
    """The digits drawn around on the maps or picked by label (their dataset indices mapped to the sample's rows)."""
    if not chosen:
        st.caption("Draw a lasso or a box on a map (or select labels above) to see those digits.")
        return
    st.subheader("What is in your selection?")
    row = {int(v): k for k, v in enumerate(ctx["idx"])}  # dataset index -> row of the sample
    selection_grid([row[i] for i in sorted(chosen)], sm.dataset.images[ctx["idx"]], ctx["labels"], ctx["pred"],
                   ctx["names"])
