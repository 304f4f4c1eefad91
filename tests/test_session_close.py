"""Closed sessions leave the server (a real server, websocket sessions speaking Streamlit's protocol):
Streamlit keeps a closed tab's session for `server.disconnectedSessionTTL` so a reconnect resumes
it, but on its own never shuts an expired one down (it stays in its storage until the next
disconnect, and then its uploads stay behind). dashboard.core.runtime.close_expired_sessions, run by the
server's GC thread every 10 s, shuts them down: the admin page counts none kept soon after the TTL."""
from __future__ import annotations

import asyncio
import secrets
import time

import pytest

pytest.importorskip("websockets")

from tests.helpers import run_in_own_loop  # noqa: E402
from tests.servers import (  # noqa: E402
    Server,  # noqa: E402
    Student,
    make_photo,
)

KEPT = "Closed, kept for a reconnect"
TTL_S = 20  # server.disconnectedSessionTTL here: long enough to see the three sessions kept first


async def _scenario(base: str, password: str) -> dict:
    log: list[str] = []
    photo = make_photo(800, 600)
    students = [Student(base, i + 1, log) for i in range(3)]
    for s in students:
        assert await s.home(60), s.errors
    done = await asyncio.gather(*(s.convolution(photo, 90) for s in students))
    assert all(done), [s.errors for s in students]
    for s in students:
        await s.close()
    admin = Student(base, 99, log)
    await admin.connect()
    stats = await admin.admin(password, 60)
    seen = [stats.get(KEPT)]

    async def until(wanted: str, timeout: float) -> None:  # the admin page's count, polled once a second
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and seen[-1] != wanted:
            await asyncio.sleep(1)
            seen.append((await admin.admin_refresh(30)).get(KEPT))
    # The server notes each close as its websocket handler gets to it: first all three are kept for a
    # reconnect (for the TTL, TTL_S), then the GC thread (every 10 s) shuts them down.
    await until("3", TTL_S)
    kept = seen[-1]
    await until("0", TTL_S + 10 + 60)  # with room for a slow machine: a hang, not a bar
    await admin.close()
    return {"kept": kept, "last": seen[-1], "seen": seen, "log": log, "errors": [s.errors for s in students]}


def test_closed_sessions_are_shut_down_after_their_ttl(tmp_path):
    password = secrets.token_hex(8)
    server = Server(tmp_path, env={"NETLENS_WARM": "0", "NETLENS_ADMIN_PASSWORD": password,
                                     "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(TTL_S)}, start_timeout=90)
    try:
        out = run_in_own_loop(lambda: asyncio.wait_for(_scenario(server.base, password), 300))
    finally:
        server.stop()
    assert not any(out["errors"]) and not out["log"], (out["errors"], out["log"])
    assert out["kept"] == "3", f"the three closed sessions should be kept for a reconnect first; admin: {out['seen']}"
    assert out["last"] == "0", f"closed sessions were never shut down after their TTL: admin said {out['seen']}"
