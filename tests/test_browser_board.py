"""Real browser: a lecturer opens a class board, three students draw on Predict and send, and the
projector shows all three (no reload). Its own server (with a teacher password)."""
import math
import os
import secrets
from pathlib import Path

import pytest

from tests.helpers import choose, idle, shot, wait_until

pytestmark = pytest.mark.browser

STROKES = {  # a digit drawn with the mouse on the 280×280 canvas: lists of (x, y) strokes
    "1": [[(140, 40 + 8 * i) for i in range(26)]],
    "7": [[(60 + 8 * i, 50) for i in range(21)], [(220 - 5 * i, 50 + 9 * i) for i in range(22)]],
    "0": [[(140 + 70 * math.cos(t / 10), 140 + 95 * math.sin(t / 10)) for t in range(64)]],
}


@pytest.fixture(scope="module")
def board_server(tmp_path_factory):
    """A server with a teacher password and the default models trained ahead (`python -m analysis.train --save`,
    into NETLENS_MODELS_DIR when set, else a temporary folder), so no page waits on a training."""
    from tests.servers import Server, prepare_models

    models = Path(os.environ.get("NETLENS_MODELS_DIR") or tmp_path_factory.mktemp("models"))
    prepare_models(models)
    password = secrets.token_urlsafe(12)
    server = Server(tmp_path_factory.mktemp("board"), env={"NETLENS_TEACHER_PASSWORD": password,
                                                          "NETLENS_MODELS_DIR": str(models)}, start_timeout=60)
    try:
        yield server.base, password
    finally:
        server.stop()


def draw(page, strokes) -> None:
    canvas = page.locator("canvas").last
    canvas.wait_for()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()


def send(page, base: str, code: str, label: str) -> None:
    page.goto(f"{base}/predict")
    page.get_by_text("Where the digit comes from").wait_for(timeout=120_000)
    draw(page, STROKES[label])
    page.get_by_text("What each model says").wait_for(timeout=60_000)
    page.get_by_text("Send this digit to the class board").click()
    box = page.get_by_label("Join code", exact=True)
    box.fill(code)
    box.press("Enter")
    page.get_by_text("Which digit did you mean?").wait_for(timeout=30_000)
    choose(page, "Which digit did you mean?", label)
    page.get_by_role("button", name="Send to the board").click()
    page.get_by_text("your digit #").wait_for(timeout=30_000)
    idle(page)


CELL = """([meant, read]) => {  // a cell of the room's confusion matrix: its centre on the screen and its count
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.data && g.data[0].type === 'heatmap');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const r = ya._categories.indexOf(meant), z = gd.calcdata[0][0].z[r];  // data[0].z may be base64
  if (read === null) return {read: xa._categories[z.findIndex(n => n > 0)]};  // where that row's digit went
  const c = xa._categories.indexOf(read);
  return {x: box.left + xa._offset + xa.l2p(c), y: box.top + ya._offset + ya.l2p(r), n: z[c]};
}"""


def click_cell(page, meant: str, read: str) -> None:
    """Click the cell (meant, read as) of the room's confusion matrix: its digits open below."""
    page.locator(".js-plotly-plot .heatmaplayer").last.scroll_into_view_if_needed()
    cell = page.evaluate(CELL, [meant, read])
    words = page.locator('[data-testid="stMarkdownContainer"]', has_text=f"meant as {meant} and read as {read} by")
    for attempt in range(3):  # the board redraws every second: a click landing on a redraw is lost, as for a person
        page.mouse.move(cell["x"] - 4, cell["y"] - 4)  # the pointer rests on the cell (its hover label shows)
        page.locator(".js-plotly-plot .hoverlayer .hovertext").last.wait_for(timeout=10_000)
        page.mouse.click(cell["x"], cell["y"])
        try:
            words.wait_for(timeout=10_000)
            break
        except Exception:
            if attempt == 2:
                raise
    assert words.inner_text().startswith(f"{cell['n']} digit(s)"), words.inner_text()
    shown = page.locator(f'img[alt^="A room\'s digit meant as {meant}, read as {read} by"]')
    # the board redraws every second: the cell's digits are counted once they are all drawn
    wait_until(lambda: shown.count() == cell["n"], 30, f"{cell['n']} digit(s) shown under the cell",
               every=0.2)


def test_three_students_send_and_the_projector_shows_all_three(browser, board_server):
    base, password = board_server
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(4)]
    try:
        projector, *students = [c.new_page() for c in contexts]
        for pg in (projector, *students):
            pg.set_default_timeout(30_000)
        projector.goto(f"{base}/board?present=1")
        box = projector.get_by_label("Teacher password (or the admin password)", exact=True)
        box.fill(password)
        box.press("Enter")
        projector.get_by_role("button", name="Open a new board").click()
        heading = projector.get_by_text("Join code:")
        heading.wait_for()
        code = heading.inner_text().split(":")[-1].strip()
        assert len(code) == 6
        projector.get_by_text("No digits yet").wait_for()

        for pg, label in zip(students, ["1", "7", "0"]):
            send(pg, base, code, label)
        projector.wait_for_function("document.querySelectorAll('figure.nl-digit').length === 3", timeout=60_000)
        meant = sorted(projector.locator("figure.nl-digit b").all_inner_texts())
        assert meant == ["0", "1", "7"]
        projector.get_by_text("How the models do on the room's handwriting").wait_for(timeout=30_000)
        for short in ("LR", "MLP", "CNN"):  # each default model's answer under each digit
            assert projector.locator("figure.nl-digit").first.get_by_text(short).count() == 1
        shot(projector, "board-projector")

        read = projector.evaluate(CELL, ["7", None])["read"]  # what the chosen model read the 7 as
        click_cell(projector, "7", "2" if read != "2" else "3")  # a cell with no digit: 0 digit(s)
        click_cell(projector, "7", read)  # the 7's cell: its digit
        shot(projector, "board-cell-clicked")

        students[1].get_by_role("button", name="Withdraw").click()  # the second student takes theirs back
        projector.wait_for_function("document.querySelectorAll('figure.nl-digit').length === 2", timeout=60_000)
        assert sorted(projector.locator("figure.nl-digit b").all_inner_texts()) == ["0", "1"]

        first = students[0]  # reloads the tab: the same browser's saved work lists its digit, and it can withdraw it
        first.reload()
        mine = first.get_by_text("Your digits on board")
        mine.wait_for(timeout=60_000)
        mine.scroll_into_view_if_needed()
        shot(first, "board-student-after-reload")
        first.get_by_role("button", name="Withdraw").click()
        first.get_by_text("Withdrawn: digit #").wait_for()
        projector.wait_for_function("document.querySelectorAll('figure.nl-digit').length === 1", timeout=60_000)
        assert projector.locator("figure.nl-digit b").all_inner_texts() == ["0"]
    finally:
        for c in contexts:
            c.close()
