"""Shared fixtures: a real Streamlit server and a real Chromium for browser tests.

Browser tests need Debian's Chromium (`apt-get install -y chromium`) and the
`playwright` Python package (never `playwright install`: it downloads a browser).
Without them they skip with the reason; with NETLENS_REQUIRE_BROWSER=1 (as in CI)
a missing browser is a failure instead.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# No warm-up trainings in AppTest runs or the shared test server (tests/test_warm_start.py turns it on).
os.environ.setdefault("NETLENS_WARM", "0")
# The cluster store's signing key (analysis.compute.store_key), as a key file: every Store, app server and
# local Ray head the tests start inherits it; jobs get only its path (never the key) in their env_vars.
if not (os.environ.get("NETLENS_STORE_KEY_FILE") or os.environ.get("NETLENS_STORE_KEY")):
    _KEY_DIR = Path(tempfile.mkdtemp(prefix="netlens-test-key-"))
    (_KEY_DIR / "store.key").write_text(secrets.token_hex(32))
    (_KEY_DIR / "store.key").chmod(0o600)
    os.environ["NETLENS_STORE_KEY_FILE"] = str(_KEY_DIR / "store.key")
    atexit.register(shutil.rmtree, _KEY_DIR, True)

# AppTest reads .streamlit/config.toml, whose showErrorDetails = "none" would redact at.exception's
# message: in this process, tests see the full error (real servers keep the file's "none").
import streamlit.config as _st_config  # noqa: E402

_st_config.set_option("client.showErrorDetails", "full", "tests/conftest.py")
CHROMIUM = os.environ.get("NETLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """A real NetLens server on loopback for the whole test session (benchmarks/server.py's launcher)."""
    from tests.servers import Server

    try:
        server = Server(tmp_path_factory.mktemp("server"), start_timeout=60)
    except RuntimeError as e:
        pytest.fail(f"Streamlit did not start: {e}")
    try:
        yield server.base
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    why = _browser_missing()
    if why:
        if os.environ.get("NETLENS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"NETLENS_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.base_url = app_url
    yield pg
    context.close()


@pytest.fixture(scope="session")
def ray_head():
    """A real local Ray head (benchmarks/ray_head.py) for the cluster back end's tests: 127.0.0.1,
    free ports, 2 CPUs, a temp dir of its own; stopped by its own processes afterwards."""
    try:
        import ray.job_submission  # noqa: F401
    except ImportError as e:
        pytest.fail(f"ray[default] is not installed ({e}): pip install -r requirements.txt")
    from tests.servers import RayHead

    try:
        head = RayHead(num_cpus=2)
    except (RuntimeError, OSError) as e:
        pytest.fail(f"the local Ray head did not start: {e}")
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture
def fresh_registries():
    """Empty process-wide job registries (analysis.compute.jobs.shared_registry: the Training page's and the maps')
    before and after the test: no test joins or reuses a job an earlier test left, whatever the order
    (pytest -n). Running jobs are asked to stop and waited for; the registry objects stay the same (the
    dashboard's modules hold them), only their entries go."""
    def clear():
        jobs = sys.modules.get("analysis.compute.jobs")
        if jobs is None:
            return
        for reg in jobs.shared_registries().values():
            reg.shutdown(timeout=60)
            with reg._lock:
                reg._jobs.clear()
    clear()
    yield
    clear()


@pytest.fixture
def board_teacher(monkeypatch):
    """The class board's teacher password set (the admin's unset) and its guessing limiters fresh."""
    from dashboard.board.state import STORE
    from dashboard.core.access import LIMITERS, TEACHER

    monkeypatch.setenv("NETLENS_TEACHER_PASSWORD", "chalk and talk")
    monkeypatch.delenv("NETLENS_ADMIN_PASSWORD", raising=False)
    LIMITERS[TEACHER.key]._sessions.clear()
    STORE.limiter._sessions.clear()
    yield
