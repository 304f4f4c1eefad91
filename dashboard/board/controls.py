"""The class board's controls: joining with a code, sending a digit from Predict (opt-in), the
student's own digits with Withdraw, and the lecturer's open/freeze/clear/close/hide/export.
Every action runs in its widget's callback (before the run), so a rerun never repeats it, and
leaves one plain sentence in the state for the page to show."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.compute.board import CODE_LENGTH, BoardError, BoardView
from analysis.compute.board_shared import SharedBoardStore
from dashboard.board.state import STORE, BoardState, board_state
from dashboard.core import access, alt_images, figures, runtime

SEND_PRIVACY = ("Only this 28×28 digit, the digit you meant and the time go to the board, with a random id for "
                "this browser tab (no name). They stay in {where} until the board ends (a few hours "
                "at most), and you can withdraw them.")
WHERE = {False: "this server's memory", True: "the app servers' shared store (signed, on the class's own servers)"}


def _say(state: BoardState, text: str | None, ok: bool = False) -> None:
    state.said, state.said_ok = text, ok


def said(state: BoardState) -> None:
    """The last message of a join, send or lecturer action, once."""
    if state.said:
        (st.success if state.said_ok else st.warning)(state.said, icon=":material/info:")
        state.said = None


# ---------------------------------------------------------------------- joining


def _join(state: BoardState, key: str, then: str) -> None:
    typed = st.session_state.get(key) or ""
    st.session_state[key] = ""  # the box empties: a rerun never counts the same try twice
    if not typed.strip():
        return
    code, verdict = STORE.join(runtime.session_id(), access.client_address(), typed)
    if code is None:
        _say(state, verdict.message.replace("That is not the join code",
                                            "That is not the join code of an open board")
             if verdict.message else "That code did not work: check it and try again.")
        return
    setattr(state, then, code)
    _say(state, f"Joined board {code}.", ok=True)


def join_ui(state: BoardState, then: str, key: str, label: str = "Join code") -> None:
    """A box for the board's join code (checked through the guessing limiter)."""
    st.text_input(label, key=key, on_change=_join, args=(state, key, then), max_chars=32,
                  placeholder=f"{CODE_LENGTH} letters and digits, e.g. K7MX4Q",
                  help="The code your lecturer shows on the class board. Capitals or not, spaces or not.")


# ---------------------------------------------------------------------- sending (Predict)


def _send(state: BoardState, digit: np.ndarray, classes: tuple[str, ...]) -> None:
    meant = st.session_state.get("board_label")
    if meant is None or meant not in classes:
        _say(state, "Pick which digit you meant, then send it.")
        return
    try:
        sent = STORE.send(state.joined or "", state.sender, digit, classes.index(meant))
    except BoardError as e:
        _say(state, str(e))
        if STORE.version(state.joined or "") is None:
            state.joined = None  # the board is gone: ask for a new code
        return
    _say(state, f"Sent: your digit #{sent.id} ({meant}) is on board {state.joined}.", ok=True)


def _withdraw(state: BoardState, digit_id: int) -> None:
    if STORE.withdraw(state.joined or "", state.sender, digit_id):
        _say(state, f"Withdrawn: digit #{digit_id} is no longer on the board.", ok=True)
    else:
        _say(state, f"Digit #{digit_id} is no longer on the board.")


def _leave(state: BoardState) -> None:
    state.joined = None


def send_ui(digit: np.ndarray, classes: tuple[str, ...]) -> None:
    """On Predict: send this digit (the model's 28×28 input) to the class board, opt-in."""
    state = board_state()
    if state.joined is not None and STORE.version(state.joined) is None:
        state.joined = None
        _say(state, "The board you joined has ended: type the new join code to send again.")
    with st.expander("Send this digit to the class board", icon=":material/co_present:",
                     expanded=state.joined is not None or bool(state.said)):
        st.caption(SEND_PRIVACY.format(where=WHERE[isinstance(STORE, SharedBoardStore)]))
        if state.joined is None:
            join_ui(state, "joined", "board_code_send")
            said(state)
            return
        a, b = st.columns([2, 1], vertical_alignment="bottom")
        a.selectbox("Which digit did you mean?", classes, index=None, key="board_label", placeholder="Pick one",
                    help="What you meant to write: the board compares it with what each model reads.")
        b.button("Send to the board", key="board_send", icon=":material/send:", type="primary",
                 on_click=_send, args=(state, np.asarray(digit, dtype=np.float64), tuple(classes)))
        said(state)
        mine_ui(state)
        st.button(f"Leave board {state.joined}", key="board_leave", on_click=_leave, args=(state,))


def mine_ui(state: BoardState) -> None:
    mine = STORE.mine(state.joined or "", state.sender)
    if not mine:
        return
    view = STORE.view(state.joined or "")
    st.caption(f"Your digits on board {state.joined} ({len(mine)} of at most {STORE.per_session}):")
    cols = st.columns(min(len(mine), 5))
    for i, d in enumerate(mine):
        with cols[i % len(cols)]:
            label = view.classes[d.label] if view else str(d.label)
            alt_images.show(st, figures.enlarge(d.image, 56), alt_images.digit_alt(label, "Your digit"),
                            caption=f"#{d.id}: {label}", width=56)
            st.button("Withdraw", key=f"board_withdraw_{d.id}", on_click=_withdraw, args=(state, d.id),
                      help="Take this digit off the board.")


# ---------------------------------------------------------------------- the lecturer


def _open(state: BoardState) -> None:
    try:
        code = STORE.open(runtime.session_id())
    except BoardError as e:
        _say(state, str(e))
        return
    state.owned = state.watching = code
    _say(state, f"Board {code} is open: show this page to the room.", ok=True)


def open_ui(state: BoardState) -> None:
    """Behind the teacher (or admin) password: open a new board."""
    if not access.configured(access.TEACHER):
        st.info("Opening a board needs NETLENS_TEACHER_PASSWORD or NETLENS_ADMIN_PASSWORD set on the server.")
        return
    if not (st.session_state.get(f"{access.ADMIN.key}_ok") or access.granted(access.TEACHER, False)):
        return
    st.button("Open a new board", key="board_open", icon=":material/add_box:", type="primary", on_click=_open,
              args=(state,), help="A new, empty board with its own join code; it ends by itself after "
                                  f"{STORE.expiry_s / 3600:g} hours.")


def _act(state: BoardState, what: str, digit_id: int | None = None) -> None:
    code = state.owned or ""
    if not STORE.owns(code, runtime.session_id()):
        _say(state, "Only the session that opened this board can change it.")
        return
    try:
        if what == "freeze":
            STORE.freeze(code, True)
            _say(state, "Paused: the board takes no new digits until you resume it.", ok=True)
        elif what == "resume":
            STORE.freeze(code, False)
            _say(state, "Resumed: the board takes digits again.", ok=True)
        elif what == "clear":
            STORE.clear(code)
            _say(state, "Cleared: every digit was dropped from the board.", ok=True)
        elif what == "close":
            STORE.close(code)
            _say(state, "Closed: the board takes no more digits; it stays readable until it expires.", ok=True)
        elif what == "hide":
            digit_id = st.session_state.get("board_hide_id")
            if digit_id is None or int(digit_id) not in {d.id for d in STORE.view(code).digits}:
                _say(state, "There is no digit with that number on the board: type the # shown under it.")
                return
            STORE.hide(code, int(digit_id))
            _say(state, f"Hidden: digit #{int(digit_id)} was dropped from the board.", ok=True)
    except BoardError as e:
        _say(state, str(e))


def lecturer_ui(state: BoardState, view: BoardView, csv_data, png_data) -> None:
    """Freeze or resume, clear, close, hide one digit, and the exports (built when clicked)."""
    st.subheader("Lecturer")
    c = st.columns(3)
    if view.frozen:
        c[0].button("Resume", key="board_resume", icon=":material/play_arrow:", on_click=_act, args=(state, "resume"))
    else:
        c[0].button("Pause (freeze)", key="board_freeze", icon=":material/pause:", on_click=_act,
                    args=(state, "freeze"), disabled=view.closed, help="No new digits until you resume.")
    c[1].button("Clear", key="board_clear", icon=":material/delete_sweep:", on_click=_act, args=(state, "clear"),
                help="Drop every digit on the board (the join code stays).")
    c[2].button("Close", key="board_close", icon=":material/lock:", on_click=_act, args=(state, "close"),
                disabled=view.closed, help="No more digits, ever; the board stays readable until it expires.")
    h = st.columns([1, 1], vertical_alignment="bottom")
    h[0].number_input("Digit # to hide", min_value=1, step=1, value=None, key="board_hide_id",
                      help="Moderation: the number shown under the digit. A hidden digit is dropped.")
    h[1].button("Hide it", key="board_hide", icon=":material/visibility_off:", on_click=_act, args=(state, "hide"))
    d = st.columns(2)
    d[0].download_button("Labels and answers (CSV)", csv_data, file_name=f"board-{view.code}.csv", mime="text/csv",
                         key="board_csv", icon=":material/download:", on_click="ignore")
    d[1].download_button("Gallery (PNG)", png_data, file_name=f"board-{view.code}.png", mime="image/png",
                         key="board_png", icon=":material/download:", on_click="ignore")
