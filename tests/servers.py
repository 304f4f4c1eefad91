"""The one door from tests/ to benchmarks/: the server launcher (a real Streamlit server, a local
Ray head, the cluster's app servers) and the websocket client that drives a server's sessions.

Tests import these names from here, never from benchmarks/ directly, so what the suite borrows
from the benchmarks is listed in one place. Each name is imported on first use (the websocket
client needs the `websockets` package, which some tests first check for with importorskip).
"""
from __future__ import annotations

import importlib
import secrets
from contextlib import contextmanager
from pathlib import Path

_FROM = {
    # benchmarks/server.py: one real NetLens server on a free loopback port, its process tree
    "Server": "benchmarks.server",
    "free_port": "benchmarks.server",
    "process_tree": "benchmarks.server",
    # benchmarks/convolution_page.py: a smooth, photo-like JPEG of w × h pixels
    "photo": "benchmarks.convolution_page",
    # benchmarks/a11y.py: the pages and states axe checks (issue 36), and how to reach each
    "A11Y_ADMIN_PASSWORD": "benchmarks.a11y",
    "a11y_states": "benchmarks.a11y",
    "a11y_visit": "benchmarks.a11y",
    "run_sweep": "benchmarks.a11y",
    # benchmarks/keyboard_tasks.py: the five lecture tasks by keyboard alone (issue 37), Tab walks, focus checks
    "KEYBOARD_TASKS": "benchmarks.keyboard_tasks",
    "KeyboardError": "benchmarks.keyboard_tasks",
    "IDLE_JS": "benchmarks.keyboard_tasks",
    "idle": "benchmarks.keyboard_tasks",
    "settled": "benchmarks.keyboard_tasks",
    "SIDEBAR": "benchmarks.keyboard_tasks",
    "CHARTS": "benchmarks.keyboard_tasks",
    "SCROLL": "benchmarks.keyboard_tasks",
    "keyboard_task": "benchmarks.keyboard_tasks",
    "tab_to": "benchmarks.keyboard_tasks",
    "tour": "benchmarks.keyboard_tasks",
    # benchmarks/ray_head.py: a local Ray head on free ports with a temp dir of its own
    "RayHead": "benchmarks.ray_head",
    # benchmarks/load_cluster.py: app servers sharing one Ray head and one store
    "start_servers": "benchmarks.load_cluster",
    # the websocket client (benchmarks/st_client.py, st_wire.py) and the student steps built on it
    "Session": "benchmarks.st_client",
    "deep_link_through_password": "benchmarks.hostile_door",
    "forty_wrong_passwords": "benchmarks.hostile_door",
    "open_door": "benchmarks.hostile_door",
    "put_upload": "benchmarks.hostile_door",
    "type_password": "benchmarks.hostile_door",
    "Student": "benchmarks.load_steps",
    "TRAINED_METRIC": "benchmarks.load_steps",
    "jobs_run": "benchmarks.load_steps",
    "make_photo": "benchmarks.load_steps",
    # benchmarks/board.py: the default models trained ahead into a folder (for NETLENS_MODELS_DIR)
    "prepare_models": "benchmarks.board",
    # benchmarks/board.py: one round of a room sending digits while the projector watches
    "room": "benchmarks.board",
    # benchmarks/board_servers.py: app servers on the cluster back end sharing the board through the store
    "board_servers": "benchmarks.board_servers",
}
__all__ = sorted(_FROM)


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"tests.servers has no {name!r}; expected one of {', '.join(__all__)}")
    return getattr(importlib.import_module(_FROM[name]), name)


@contextmanager
def password_server(folder: Path):
    """(server, password): a server behind a fresh class password (issue 29's door), without warm-up,
    workers, a cluster or trained-ahead models; stopped on leaving."""
    password = secrets.token_hex(6)
    server = __getattr__("Server")(folder, env={"NETLENS_PASSWORD": password, "NETLENS_WARM": "0",
                                                "NETLENS_WORKERS": "0", "NETLENS_RAY_ADDRESS": ""},
                                   unset=("NETLENS_MODELS_DIR",), start_timeout=90)
    try:
        yield server, password
    finally:
        server.stop()
