"""The door on a REAL server (issue 29), spoken to as a browser does (benchmarks/st_client.py):

- nothing before the password: Streamlit's upload endpoint (PUT /_stcore/upload_file/<session>/<file_id>)
  refuses a file for a session that has not typed the class password (403, nothing stored), still after a
  wrong one, and takes it once the password is typed (204) — on a bare app server and through the nginx
  sample (deploy/nginx/netlens.conf, rendered as tests/test_deploy.py does);
- through nginx, one browser flooding the upload endpoint is throttled (429) while a classmate at the
  same address is not;
- the hostile case "40 wrong passwords" (benchmarks/hostile_door.py) holds.
"""
from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("websockets")

from tests.helpers import Nginx, in_own_thread, nginx_binary, run_in_own_loop  # noqa: E402
from tests.servers import forty_wrong_passwords, open_door, password_server, put_upload, type_password  # noqa: E402

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(2000)  # small: what is checked is who may store, not the size


@pytest.fixture(scope="module")
def door(tmp_path_factory):
    with password_server(tmp_path_factory.mktemp("door")) as served:
        yield served


async def _uploads(base: str, password: str) -> dict:
    s = await open_door(base)
    try:
        out = {"before": await put_upload(s, PHOTO)}
        out["said_wrong"] = await type_password(s, "not-" + password)
        out["after_wrong"] = await put_upload(s, PHOTO)
        out["said_right"] = await type_password(s, password)
        out["after"] = await put_upload(s, PHOTO)
        return out
    finally:
        await s.close()


def check_uploads(out: dict, log: str) -> None:
    status, text = out["before"]
    assert status == 403 and "class password first" in text, (out, log[-2000:])
    assert "That is not the class password" in out["said_wrong"], out
    assert out["after_wrong"][0] == 403, out
    assert out["said_right"] == "", out  # let in: the box is gone
    assert out["after"][0] == 204, (out, log[-2000:])  # the same endpoint works once the password is typed


def test_no_upload_is_stored_before_the_password_on_a_bare_server(door):
    server, password = door
    check_uploads(run_in_own_loop(lambda: _uploads(server.base, password)), server.log_tail())


def test_forty_wrong_passwords_hold_and_are_logged_without_the_text(door):
    server, password = door
    name, held, details = in_own_thread(forty_wrong_passwords, server.base, password)
    assert held, details
    log = server.log_tail(200_000)
    assert "wrong class password: session=" in log and "address=" in log, log[-2000:]
    assert password not in log and "wrong-0-" not in log  # never what was typed


async def _flood(base: str) -> tuple[list[int], int]:
    a, b = await open_door(base), await open_door(base)  # two browsers, one address (a classroom)
    try:
        statuses = await asyncio.gather(*(put_upload(a, PHOTO) for _ in range(40)))
        mate = await put_upload(b, PHOTO)
        return [s for s, _ in statuses], mate[0]
    finally:
        await a.close()
        await b.close()


@pytest.mark.slow  # nginx in front of the app server
def test_through_nginx_uploads_wait_for_the_password_and_one_browser_is_throttled_alone(door, tmp_path, monkeypatch):

    nginx = nginx_binary()
    server, password = door
    front = Nginx(nginx, tmp_path, [server.base.removeprefix("http://")])
    monkeypatch.setenv("SSL_CERT_FILE", str(front.cert))  # HTTPS and WSS through nginx, the certificate verified
    try:
        out = run_in_own_loop(lambda: _uploads(front.base, password))
        flood, mate = run_in_own_loop(lambda: _flood(front.base))
    finally:
        front.stop()
    check_uploads(out, server.log_tail())
    assert flood.count(429) >= 1 and set(flood) <= {403, 429}, flood  # throttled by nginx, refused by the app
    assert mate == 403, mate  # the classmate's request reached the app: not throttled with the flooder
