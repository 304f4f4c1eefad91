"""AppTests of the class board: opening one (teacher password), sending from Predict, the board page."""
import numpy as np
import pytest
from streamlit.elements.plotly_chart import PlotlySelectionState, PlotlyState
from streamlit.testing.v1 import AppTest

from analysis.datasets import load_dataset, split_dataset
from dashboard.board.state import STORE, answers
from dashboard.core.access import TEACHER
from dashboard.core.training_jobs import REGISTRY, ready_default_models
from tests.helpers import message_texts, paper_photo, png

BOARD, PREDICT = "../pages/board.py", "../pages/predict.py"


pytestmark = pytest.mark.usefixtures("board_teacher")
texts = message_texts


def html_of(at: AppTest) -> str:
    return " ".join(e.proto.body for e in at.get("html"))


def open_board() -> tuple[AppTest, str]:
    at = AppTest.from_file(BOARD, default_timeout=60).run()
    assert not at.exception, at.exception
    at.text_input(key=TEACHER.key).set_value("chalk and talk").run()
    assert not at.exception, at.exception
    at.button(key="board_open").click().run()
    assert not at.exception, at.exception
    code = next(m.value for m in at.markdown if m.value.startswith("### Join code:")).split("`")[1]
    assert at.session_state["board"].owned == code and STORE.view(code).digits == ()
    return at, code


def seven() -> bytes:
    ds = load_dataset("mnist5k")
    test = split_dataset(ds, 0).test
    return png(paper_photo(ds.images[test[np.flatnonzero(ds.labels[test] == 7)[0]]]))


def predict_with_photo() -> AppTest:
    at = AppTest.from_file(PREDICT, default_timeout=60).run()
    for job in REGISTRY.jobs():
        job.wait(900)  # the default models, trained once per test process (minutes on a busy 2-core machine)
    at.run()
    assert not at.exception, at.exception
    at.radio(key="predict_source").set_value("photo").run()
    at.file_uploader(key="predict_upload").set_value(("seven.png", seven(), "image/png")).run()
    assert not at.exception, at.exception
    return at


def test_a_wrong_teacher_password_opens_nothing():
    at = AppTest.from_file(BOARD, default_timeout=60).run()
    at.text_input(key=TEACHER.key).set_value("guess").run()
    assert not at.exception, at.exception
    assert any("not the teacher password" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "board_open"]


def test_the_admin_password_opens_a_board_too(monkeypatch):
    monkeypatch.setenv("NETLENS_ADMIN_PASSWORD", "root of trust")
    at = AppTest.from_file(BOARD, default_timeout=60).run()
    at.text_input(key=TEACHER.key).set_value("root of trust").run()
    assert [b for b in at.button if b.key == "board_open"]


def test_send_from_predict_shows_on_the_board_and_can_be_withdrawn():
    board, code = open_board()
    assert any("No digits yet" in t for t in texts(board))
    at = predict_with_photo()
    at.text_input(key="board_code_send").set_value(code.lower()).run()  # typed in lower case: still the code
    assert not at.exception, at.exception
    at.button(key="board_send").click().run()  # no label picked yet
    assert any("Pick which digit you meant" in t for t in texts(at)), texts(at)
    at.selectbox(key="board_label").set_value("7").run()
    at.button(key="board_send").click().run()
    assert not at.exception, at.exception
    assert any(f"your digit #1 (7) is on board {code}" in t for t in texts(at)), texts(at)
    view = STORE.view(code)
    assert [(d.id, d.label) for d in view.digits] == [(1, 7)] and view.digits[0].image.shape == (28, 28)

    board.run()
    assert not board.exception, board.exception
    page = html_of(board)
    assert 'data-digit="1"' in page and "meant <b>7</b>" in page
    for m in ("LR", "MLP", "CNN"):  # one answer per default model under the digit
        assert f'">{m} ' in page, page[-600:]
    assert any("the room's digits" in list(t.value.columns) for t in board.table)

    at.button(key="board_withdraw_1").click().run()
    assert any("Withdrawn: digit #1" in t for t in texts(at))
    assert STORE.view(code).digits == ()


def test_wrong_codes_are_refused_and_count_as_wrong_tries():
    open_board()
    at = predict_with_photo()
    for _ in range(3):
        at.text_input(key="board_code_send").set_value("QQQQQQ").run()
        assert not at.exception, at.exception
    assert any("Too many wrong tries: wait" in t for t in texts(at)), texts(at)
    assert not [b for b in at.button if b.key == "board_send"]


def test_a_closed_board_refuses_in_plain_words_and_keeps_its_digits():
    board, code = open_board()
    at = predict_with_photo()
    at.text_input(key="board_code_send").set_value(code).run()
    at.selectbox(key="board_label").set_value("7").run()
    at.button(key="board_send").click().run()
    board.run()
    board.button(key="board_close").click().run()
    assert not board.exception, board.exception
    assert STORE.view(code).closed
    at.button(key="board_send").click().run()
    assert any("closed this board" in t for t in texts(at)), texts(at)
    assert len(STORE.view(code).digits) == 1


def test_the_lecturer_hides_a_digit():
    board, code = open_board()
    at = predict_with_photo()
    at.text_input(key="board_code_send").set_value(code).run()
    at.selectbox(key="board_label").set_value("1").run()  # meant 1: the models read 7, a confident mistake
    at.button(key="board_send").click().run()
    board.run()
    assert any("meant 1, " in h.proto.body and "nl-figure" in h.proto.body for h in board.get("html"))  # most wrong
    board.number_input(key="board_hide_id").set_value(1).run()
    board.button(key="board_hide").click().run()
    assert not board.exception, board.exception
    assert STORE.view(code).digits == () and STORE.view(code).hidden == 1
    assert any("Hidden: digit #1" in t for t in texts(board))


def click(at: AppTest, meant: str, read_as: str) -> None:
    """A click on the confusion matrix's cell, as st.plotly_chart(on_select="rerun") reports it."""
    at.session_state["board_cm"] = PlotlyState(selection=PlotlySelectionState(
        points=[{"x": read_as, "y": meant, "curve_number": 1}], point_indices=[0], box=[], lasso=[]))
    at.run()
    assert not at.exception, at.exception


def test_a_click_on_the_confusion_matrix_opens_its_cell():
    board, code = open_board()
    at = predict_with_photo()
    at.text_input(key="board_code_send").set_value(code).run()
    at.selectbox(key="board_label").set_value("1").run()
    at.button(key="board_send").click().run()
    board.run()
    model = board.radio(key="board_cm_model").value
    read = STORE.view(code).classes[answers(STORE.view(code), ready_default_models()[0])[model][0].winner]
    other = "3" if read != "3" else "4"

    click(board, "1", other)
    assert (board.selectbox(key="board_cm_true").value, board.selectbox(key="board_cm_pred").value) == ("1", other)
    assert any(f"**0 digit(s)** meant as 1 and read as {other}" in t for t in texts(board)), texts(board)
    click(board, "1", read)
    assert board.selectbox(key="board_cm_pred").value == read
    assert any(f"**1 digit(s)** meant as 1 and read as {read}" in t for t in texts(board)), texts(board)
    assert f"A room&#x27;s digit meant as 1, read as {read}" in html_of(board) or \
        f"A room's digit meant as 1, read as {read}" in html_of(board)  # its digit is shown

    board.selectbox(key="board_cm_pred").set_value(other).run()  # the drop-downs (the keyboard route) still rule
    board.run()  # the live fragment's next second: the chart still reports its last click
    assert board.selectbox(key="board_cm_pred").value == other
