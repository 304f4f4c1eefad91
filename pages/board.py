"""Class board: the room's own handwriting, live, for the projector."""
import streamlit as st

from dashboard.board import controls as board_controls
from dashboard.board import room_map, teach
from dashboard.board import view as board_view
from dashboard.board.state import STORE, board_state

st.title("Class board")
state = board_state()
if state.watching is not None and STORE.version(state.watching) is None:
    state.watching = None
    st.warning("The board you watched has ended (closed or expired): open or join another one.")

if state.watching is None:
    st.markdown("The room's own digits, live: everyone sends a digit from **Predict**, and the board shows how "
                "the server's models — about 90–96% right on MNIST's test digits — read the room's handwriting.")
    left, right = st.columns(2)
    with left:
        st.subheader("Watch a board")
        board_controls.join_ui(state, "watching", "board_code_watch")
    with right:
        st.subheader("Open a board (lecturer)")
        board_controls.open_ui(state)
    board_controls.said(state)
    st.stop()

board_controls.said(state)
board_view.live(state.watching)
room_map.room_on_map(state.watching)
teach.teach_ui(state.watching)
if state.owned != state.watching:
    st.button("Stop watching", key="board_stop_watching", on_click=lambda: setattr(state, "watching", None))
