"""Closed sessions leave the server (a real server, websocket sessions speaking Streamlit's protocol):
Streamlit keeps a closed tab's session for `server.disconnectedSessionTTL` so a reconnect resumes
it, but on its own never shuts an expired one down (it stays in its storage until the next
disconnect, and then its uploads stay behind). dashboard.runtime.close_expired_sessions, run by the
server's GC thread every 10 s, shuts them down: the admin page counts none kept soon after the TTL."""
from __future__ import annotations

import asyncio
import secrets
import time

import pytest

pytest.importorskip("websockets")

from tests.servers import Student, make_photo  # noqa: E402
from tests.servers import Server  # noqa: E402
from tests.helpers import run_in_own_loop  # noqa: E402

KEPT = "Closed, kept for a reconnect"


async def _scenario(base: str, password: str) -> tuple[list[str], list[str], list]:
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
    right_after = stats.get(KEPT)
    seen = [right_after]
    deadline = time.monotonic() + 40  # TTL 2 s + the GC thread's 10 s, with room for a slow machine
    while time.monotonic() < deadline and stats.get(KEPT) != "0":
        await asyncio.sleep(2)
        stats = await admin.admin_refresh(30)
        seen.append(stats.get(KEPT))
    await admin.close()
    return seen, log, [s.errors for s in students]


def test_closed_sessions_are_shut_down_after_their_ttl(tmp_path):
    password = secrets.token_hex(8)
    server = Server(tmp_path, env={"NETLENS_WARM": "0", "NETLENS_ADMIN_PASSWORD": password,
                                     "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "2"}, start_timeout=90)
    try:
        seen, log, errors = run_in_own_loop(lambda: asyncio.wait_for(_scenario(server.base, password), 240))
    finally:
        server.stop()
    assert not any(errors) and not log, (errors, log)
    assert seen[0] == "3", f"the three closed sessions should first be kept for a reconnect; admin said {seen}"
    assert seen[-1] == "0", f"closed sessions were never shut down after their TTL: admin said {seen}"
