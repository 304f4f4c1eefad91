"""What the Board page draws, live: the join code, the room's digits as they arrive with each default
model's answer under each, per model accuracy on the room's digits beside its MNIST test accuracy,
the room's confusion matrix (click a cell for its digits) and the most confidently wrong.

One fragment polls the board's version every second. Everything built from the board (the gallery's
HTML, the figures) is built once per board version and display mode and shared by every watcher."""
from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd
import streamlit as st

from analysis.compute.board import BoardView, board_csv, gallery_png
from dashboard.board import controls
from dashboard.board.state import STORE, Answer, BoardState, answers, board_state
from dashboard.core import alt_images, chart_text, figures, formats, training_jobs
from dashboard.core.chrome import presenting
from dashboard.core.figures import NO_BAR, chart

POLL_S = 1.0
GALLERY_MAX = 200  # the newest shown live; every digit is in the exports
SHORT = {"Logistic regression": "LR", "Multilayer perceptron": "MLP", "Convnet": "CNN"}

CSS = """
<style>
.nl-board { display: flex; flex-wrap: wrap; gap: 10px; }
.nl-digit { margin: 0; padding: 6px; border: 1px solid #bbb; border-radius: 6px; text-align: center;
            background: #fff; color: #000; min-width: 96px; }
.nl-digit img { width: 84px; height: 84px; image-rendering: pixelated; background: #000; display: block;
                margin: 0 auto; }
.nl-digit figcaption { font-size: 15px; line-height: 1.3; }
.nl-digit .ok { color: #0a5d1a; } .nl-digit .no { color: #a00000; font-weight: 700; }
.nl-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.nl-present .nl-digit { min-width: 132px; }
.nl-present .nl-digit img { width: 120px; height: 120px; }
.nl-present .nl-digit figcaption { font-size: 22px; }
</style>
"""


def short(name: str) -> str:
    return SHORT.get(name, name)


def _png_uri(image: np.ndarray) -> str:
    import cv2  # lazy: only drawing the board needs it

    ok, png = cv2.imencode(".png", image)
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")


@st.cache_resource(max_entries=16, show_spinner=False)
def _gallery(code: str, version: int, present: bool, names: tuple, _view: BoardView, _answers: dict) -> str:
    """The digits (newest first), each with its # and label and every model's answer: one HTML block,
    built once per board version and display mode (model names are in the key: answers come later
    than digits when the default models are still training)."""
    parts = [CSS, f'<div class="nl-board{" nl-present" if present else ""}">']
    order = list(range(len(_view.digits)))[::-1][:GALLERY_MAX]
    for i in order:
        d = _view.digits[i]
        meant = _view.classes[d.label]
        said = []
        for name in names:
            a: Answer = _answers[name][i]
            right = a.winner == d.label
            mark, words = ("✔", "right") if right else ("✘", "wrong")  # the mark for the eye, a word for the ear
            said.append(f'<span class="{"ok" if right else "no"}">{html.escape(short(name))} '
                        f'{html.escape(_view.classes[a.winner])} <span aria-hidden="true">{mark}</span>'
                        f'<span class="nl-sr">, {words}</span></span>')
        parts.append(f'<figure class="nl-digit" data-digit="{d.id}"><img src="{_png_uri(d.image)}" '
                     f'alt="digit #{d.id}, meant as {html.escape(meant)}"><figcaption>#{d.id} · meant '
                     f'<b>{html.escape(meant)}</b><br>{"<br>".join(said)}</figcaption></figure>')
    parts.append("</div>")
    return "".join(parts)


def _accuracy_table(view: BoardView, said: dict[str, list[Answer]], models: dict) -> pd.DataFrame:
    labels = np.array([d.label for d in view.digits])
    rows = []
    for name, row in said.items():
        right = int(sum(a.winner == y for a, y in zip(row, labels)))
        rows.append(
            {
                "model": name,
                "the room's digits": f"{formats.accuracy(right / len(labels))} ({right} of {len(labels)})",
                "MNIST test digits": formats.accuracy(models[name].test_accuracy),
            }
        )
    return pd.DataFrame(rows)


def _picked(state: BoardState) -> None:
    state.cell = (-1, -1)  # a person chose a cell: keep it


def clicked_cell(points: list, classes: list[str]) -> tuple[int, int] | None:
    """The (meant, read as) cell a click on the confusion matrix chose, or None."""
    if points and points[0].get("y") in classes and points[0].get("x") in classes:
        return classes.index(points[0]["y"]), classes.index(points[0]["x"])
    return None


def _clicked(points: list, classes: list[str], state: BoardState) -> None:
    """A new click on a cell sets the two drop-downs (once: the chart keeps reporting its selection on
    every rerun of the live fragment, and a later choice in the drop-downs must stand)."""
    cell = clicked_cell(points, classes)
    seen = (points[0].get("x"), points[0].get("y")) if cell else None
    if cell is not None and seen != state.clicked:
        state.cell = cell
        st.session_state["board_cm_true"], st.session_state["board_cm_pred"] = classes[cell[0]], classes[cell[1]]
    state.clicked = seen


def _confusion(view: BoardView, said: dict[str, list[Answer]], state: BoardState) -> None:
    names = list(said)
    if not names:
        return
    which = st.radio("Confusion matrix of", names, horizontal=True, key="board_cm_model",
                     help="Rows: the digit the student meant; columns: what this model read.")
    k = len(view.classes)
    y = np.array([d.label for d in view.digits])
    pred = np.array([a.winner for a in said[which]])
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    fig = figures.shared(("board-cm", view.code, view.version, which),
                         lambda: figures.confusion_matrix(cm, view.classes))
    event = chart(st, fig, chart_text.confusion(cm, view.classes, f"room's digits ({which})"), on_select="rerun",
                  selection_mode="points", key="board_cm", config=NO_BAR)
    cls = list(view.classes)
    _clicked(event.selection.points if event and event.selection else [], cls, state)
    st.caption("Click a cell, or choose “Meant” and “Read as” below (by keyboard too), to see its digits.")
    if state.cell is None:  # until someone picks a cell: the room's commonest mistake, as digits arrive
        off = cm - np.diag(np.diag(cm))
        worst = np.unravel_index(off.argmax(), off.shape) if off.any() else (0, 0)
        st.session_state["board_cm_true"], st.session_state["board_cm_pred"] = cls[worst[0]], cls[worst[1]]
    a, b = st.columns(2)
    true = a.selectbox("Meant", cls, key="board_cm_true", help="Row of the matrix.", on_change=_picked, args=(state,))
    guess = b.selectbox("Read as", cls, key="board_cm_pred", help="Column of the matrix.", on_change=_picked,
                        args=(state,))
    sel = np.flatnonzero((y == cls.index(true)) & (pred == cls.index(guess)))
    st.markdown(f"**{len(sel)} digit(s)** meant as {true} and read as {guess} by {which}:")
    if len(sel):
        shown = sel[:40]
        alt = f"A room's digit meant as {true}, read as {guess} by {which}"
        alt_images.show(st, [figures.enlarge(view.digits[i].image, 84) for i in shown], [alt] * len(shown),
                        caption=[f"#{view.digits[i].id}" for i in shown], width=84)


def _most_wrong(view: BoardView, said: dict[str, list[Answer]]) -> None:
    wrong = [(a.confidence, name, i) for name, row in said.items() for i, a in enumerate(row)
             if a.winner != view.digits[i].label]
    if not wrong:
        st.write("No model is wrong on any of the room's digits yet.")
        return
    wrong.sort(reverse=True)
    top, seen = [], set()
    for c, name, i in wrong:  # each digit once, with the model most sure of its wrong answer
        if i not in seen:
            seen.add(i)
            top.append((c, name, i))
    top = top[:6]
    words = [f"#{view.digits[i].id}: meant {view.classes[view.digits[i].label]}, {short(name)} read "
             f"{view.classes[said[name][i].winner]} ({formats.probability(c)} sure)" for c, name, i in top]
    alt_images.show(st, [figures.enlarge(view.digits[i].image, 112) for _, _, i in top],
                    [f"Handwritten digit {w}" for w in words], caption=words, width=112)


@st.fragment(run_every=POLL_S)
def live(code: str) -> None:
    """The board, redrawn every second from the shared store (cheap when nothing changed)."""
    state = board_state()
    view = STORE.view(code)
    if view is None:
        st.warning("This board has ended (it expired): open or join another one.", icon=":material/timer_off:")
        return
    ready, training = training_jobs.ready_default_models()  # never a student's own runs; never waits or trains
    said = answers(view, ready)
    n = len(view.digits)
    st.markdown(f"### Join code: `{view.code}`")
    st.caption(f"On Predict, draw or photograph a digit, open “Send this digit to the class board” and type this "
               f"code. The board is **{view.state}**; {n} digit(s); at most {view.per_session} per person.")
    if len(ready) < len(training_jobs.DEFAULT_KINDS):
        st.info("The server's default models are " + ("still training" if training else "not trained yet (the "
                "server's warm-up or a visit to Predict trains them)") + ": their answers appear when they are "
                "ready; the digits are kept meanwhile.", icon=":material/hourglass_top:")
    if not n:
        st.write("No digits yet: they appear here as they arrive.")
    else:
        _analysis(view, said, ready, state)
    if state.owned == view.code:
        names = tuple(said)
        controls.said(state)
        controls.lecturer_ui(state, view, lambda: board_csv(view, {m: [a.winner for a in said[m]] for m in names}),
                             lambda: gallery_png(view))


def _analysis(view: BoardView, said: dict[str, list[Answer]], ready: dict, state: BoardState) -> None:
    n, names = len(view.digits), tuple(said)
    st.html(_gallery(view.code, view.version, presenting(), names, view, said))
    if n > GALLERY_MAX:
        st.caption(f"Showing the newest {GALLERY_MAX} of {n}; the exports hold every digit.")
    if not names:
        return
    st.caption(" · ".join(f"{short(m)}: {m}" for m in names) + " (the server's default models, MNIST-5k). "
               "✔ reads what was meant, ✘ reads something else.")
    st.subheader("How the models do on the room's handwriting")
    st.table(_accuracy_table(view, said, ready))
    st.subheader("The room's confusion matrix")
    _confusion(view, said, state)
    st.subheader("Most confidently wrong")
    _most_wrong(view, said)
