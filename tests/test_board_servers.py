"""One class board across two REAL app servers on the cluster back end (a REAL local Ray head of the test's
own on 127.0.0.1, one shared store): the projector opens the board on server A, a student on server B draws
on Predict, joins with the code and sends; the digit shows on A's projector page (its live fragment) — it
can only get there through the shared store, where the board's signed files are."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

pytest.importorskip("websockets")

from analysis.compute import store_key  # noqa: E402
from tests.helpers import run_in_own_loop  # noqa: E402
from tests.servers import board_servers, prepare_models, room  # noqa: E402

pytestmark = pytest.mark.slow  # a Ray head and two servers: about a minute


def test_a_digit_sent_to_server_b_shows_on_server_a(ray_head, tmp_path):
    models = Path(os.environ.get("NETLENS_MODELS_DIR") or tmp_path / "models")
    prepare_models(models)  # so Predict never waits on a training
    teacher, log = secrets.token_urlsafe(12), []
    a, b = board_servers(2, ray_head, tmp_path, teacher, models)
    try:
        r = run_in_own_loop(lambda: room(a.base, [b.base], teacher, 1, 0.0, log))
    finally:
        a.stop()
        b.stop()
    assert not r["errors"], (r["errors"], log)
    [(digit_id, student)] = r["sent"].items()
    assert student.base == b.base != a.base
    assert digit_id in r["projector"].seen  # shown in server A's projector page
    code = r["projector"].code
    picture = tmp_path / "store" / "boards" / code / "d" / str(digit_id)
    key = store_key.load_key({"NETLENS_STORE_KEY_FILE": str(tmp_path / "store.key")})
    assert store_key.verify_bytes(picture.read_bytes(), key, f"boards/{code}/d/{digit_id}") is not None
