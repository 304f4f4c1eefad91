"""AppTests of the Board page's "The room on the map" and "Teach it our handwriting" (issue 35), and the room
on Representations."""
import pytest
from streamlit.testing.v1 import AppTest

from analysis.datasets import load_dataset, split_dataset
from analysis.finetune import checksum
from dashboard.board import teach
from dashboard.board.state import STORE
from dashboard.core.access import TEACHER
from dashboard.core.training_jobs import REGISTRY, ready_default_models
from dashboard.representations.state import REGISTRY as MAPS
from tests.helpers import message_texts

BOARD, PREDICT, REPS = "../pages/board.py", "../pages/predict.py", "../pages/representations.py"
WAIT_S = 900  # trainings and maps, once per test process (minutes on a busy 2-core machine)


pytestmark = pytest.mark.usefixtures("board_teacher")
texts = message_texts


def open_board() -> tuple[AppTest, str]:
    at = AppTest.from_file(BOARD, default_timeout=120).run()
    at.text_input(key=TEACHER.key).set_value("chalk and talk").run()
    at.button(key="board_open").click().run()
    assert not at.exception, at.exception
    code = next(m.value for m in at.markdown if m.value.startswith("### Join code:")).split("`")[1]
    return at, code


def default_models() -> None:
    at = AppTest.from_file(PREDICT, default_timeout=120).run()  # Predict starts the default models
    for job in REGISTRY.jobs():
        job.wait(WAIT_S)
    assert not at.exception, at.exception


def send(code: str, n: int) -> list[int]:
    """n MNIST test digits, each from its own student (a random id, as the board gives)."""
    ds = load_dataset("mnist5k")
    test = split_dataset(ds, 0).test[-n:]
    for i, k in enumerate(test):
        STORE.send(code, f"student-{i}", ds.images[k], int(ds.labels[k]))
    return [int(ds.labels[k]) for k in test]


def wait_for_maps(at: AppTest) -> AppTest:
    for _ in range(3):  # the hidden layer's map, then the pixels' (each submitted when first drawn)
        at.run()
        assert not at.exception, at.exception
        for job in MAPS.jobs():
            job.wait(WAIT_S)
    return at.run()


def test_too_few_digits_to_teach_is_a_plain_message():
    at, code = open_board()
    send(code, 3)
    at.run()
    assert not at.exception, at.exception
    assert any("at least 10 digits from at least 2 students" in t for t in texts(at)), texts(at)
    assert not [b for b in at.button if b.key == "board_teach"]


def test_the_room_on_the_map_and_a_copy_taught_our_handwriting():
    default_models()
    at, code = open_board()
    labels = send(code, 14)
    at = wait_for_maps(at)
    line = next(t for t in texts(at) if t.startswith("**Room's"))
    top = max(set(labels), key=lambda k: (labels.count(k), -k))
    assert f"Room's {top}s: " in line and f"of {labels.count(top)} land among MNIST's {top}s at hidden layer 1" in line
    assert f"All {len(labels)} digits: " in line and " in raw pixels" in line, line
    chart = at.get("plotly_chart")[-1].proto.spec
    assert chart.count('"markers+text"') == 2 and "room's digit, among" in chart  # the room's digits, labelled

    mlp = ready_default_models()[0]["Multilayer perceptron"]
    before = checksum(mlp.model)
    at.button(key="board_teach").click().run()
    assert not at.exception, at.exception
    for job in teach.REGISTRY.jobs():
        job.wait(WAIT_S)
    at.run()
    assert not at.exception, at.exception
    assert checksum(mlp.model) == before  # the shared model never changes
    table = next(t.value for t in at.table if "after" in list(t.value.columns))
    assert list(table.index) == ["the room's other half (7 digits)", "MNIST validation digits"], table
    assert all(v.endswith("%") for v in table.to_numpy().ravel())
    assert any("overfit" in t for t in texts(at)) and any("whose handwriting it never saw" in t for t in texts(at))

    reps = AppTest.from_file(REPS, default_timeout=120).run()
    for job in MAPS.jobs():  # the page waits for its own default maps (the logits' too)
        job.wait(WAIT_S)
    reps.run()
    reps.text_input(key="rep_room_code").set_value(code).run()
    assert not reps.exception, reps.exception
    assert any(t.startswith("**Room's") for t in texts(reps)), texts(reps)
