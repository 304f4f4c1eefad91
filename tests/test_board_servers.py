"""Two REAL app servers on the cluster back end (a REAL local Ray head of the test's own on 127.0.0.1, one
shared store), started once for this module:

- the class board across servers (issue 35): the projector opens the board on server A, a student on server B
  draws on Predict, joins with the code and sends; the digit shows on A's projector page (its live fragment) —
  it can only get there through the shared store, where the board's signed files are;
- saved work whose cookie lands on the other server (issue 33), in a real browser: on A it trains a model (a Ray
  job; its result in the store) and uploads a photo; then the same browser opens B (cookies are per host, not
  per port: B gets A's work id, as it would behind the sticky load balancer once A is removed). B has nothing in
  memory for that id: it reads A's signed record in the store, brings the model back from the store's result,
  and says in plain words that the upload did not come back."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

pytest.importorskip("websockets")

from analysis.compute import store_key  # noqa: E402
from tests.helpers import idle, run_in_own_loop, shot, upload, wait_until  # noqa: E402
from tests.servers import board_servers, photo, prepare_models, room  # noqa: E402

pytestmark = pytest.mark.slow  # a Ray head, two servers, one Ray training: about 3 min in all
CAME_BACK = "your models came back from the shared store"
NOT_BACK = "Your uploads did not come back"


@pytest.fixture(scope="module")
def two_servers(ray_head, tmp_path_factory):
    """(A, B, the folder holding the store and its key file, the teacher password)."""
    root = tmp_path_factory.mktemp("two-servers")
    models = Path(os.environ.get("NETLENS_MODELS_DIR") or root / "models")
    prepare_models(models)  # so Predict never waits on a training
    teacher = secrets.token_urlsafe(12)
    a, b = board_servers(2, ray_head, root, teacher, models)
    try:
        yield a, b, root, teacher
    finally:
        a.stop()
        b.stop()


def test_a_digit_sent_to_server_b_shows_on_server_a(two_servers):
    a, b, root, teacher = two_servers
    log: list = []
    r = run_in_own_loop(lambda: room(a.base, [b.base], teacher, 1, 0.0, log))
    assert not r["errors"], (r["errors"], log)
    [(digit_id, student)] = r["sent"].items()
    assert student.base == b.base != a.base
    assert digit_id in r["projector"].seen  # shown in server A's projector page
    code = r["projector"].code
    picture = root / "store" / "boards" / code / "d" / str(digit_id)
    key = store_key.load_key({"NETLENS_STORE_KEY_FILE": str(root / "store.key")})
    assert store_key.verify_bytes(picture.read_bytes(), key, f"boards/{code}/d/{digit_id}") is not None


def model_box(page):
    return page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first


@pytest.mark.browser
def test_a_work_cookie_landing_on_the_other_server_brings_the_models_back_but_not_the_uploads(two_servers, browser,
                                                                                              tmp_path):
    a, b, root, _ = two_servers
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{a.base}/train?epochs=1")  # one epoch: a short training on the cluster
        page.get_by_role("button", name="Train").click(timeout=90_000)
        page.get_by_text("Validation accuracy", exact=True).wait_for(timeout=240_000)
        idle(page)
        trained = model_box(page).locator("input").input_value()
        assert "· 1 ep ·" in trained
        page.goto(f"{a.base}/convolution")
        page.get_by_text("After: Box blur (3×3)").wait_for(timeout=60_000)
        upload(page, photo(tmp_path / "street.jpg", 800, 600))
        page.get_by_text("Before: Your picture: street.jpg").wait_for(timeout=60_000)
        idle(page)
        records = root / "store" / "work"
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "netlens_work")
        # A's GC thread (every 10 s) writes the record, named by the id's hash, never by the id.
        wait_until(lambda: any(b"street.jpg" in p.read_bytes() for p in records.glob("[0-9a-f]*")), 60,
                   "server A's saved-work record with the upload")
        assert not [p for p in records.iterdir() if cookie in p.name or cookie.encode() in p.read_bytes()]

        page.goto(f"{b.base}/train")  # the same browser on the other server
        page.get_by_text(CAME_BACK).wait_for(timeout=90_000)
        notice = page.locator('[data-testid="stAlert"]').filter(has_text=CAME_BACK).inner_text()
        assert NOT_BACK in notice and "street.jpg" in notice and "upload them again" in notice
        model_box(page).wait_for(timeout=60_000)
        assert model_box(page).locator("input").input_value() == trained  # the model, from the store
        page.get_by_text("Validation accuracy", exact=True).wait_for()
        idle(page)
        shot(page, "saved-work-other-server")

        other = browser.new_context(viewport={"width": 1400, "height": 1000})  # another student on B: nothing
        try:
            them = other.new_page()
            them.goto(f"{b.base}/train")
            them.get_by_role("button", name="Train").wait_for(timeout=60_000)
            idle(them)
            assert not them.get_by_text(CAME_BACK).count() and not them.get_by_text(trained).count()
        finally:
            other.close()
    finally:
        context.close()
