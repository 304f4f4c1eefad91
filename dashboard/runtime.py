"""Process-wide set-up that must happen once per server, not once per rerun.

Imported modules run once per process; page scripts re-execute on every rerun, so
anything here is safe to call from them.
"""
from __future__ import annotations

import gc
import importlib
import os
import threading
from contextlib import contextmanager
from typing import Iterator

from analysis.malloc import give_back_free_memory, limit_malloc_arenas

GC_INTERVAL_S = 10.0  # cheap once the libraries are frozen (below)
_started = threading.Event()


FROZEN = ("torch", "sklearn.neighbors", "plotly.graph_objects", "openTSNE")  # the big libraries the server uses


def start_gc_thread(interval_s: float = GC_INTERVAL_S) -> None:
    """`runner.postScriptGC = false` saves ~320 ms of CPU per rerun once torch is
    loaded; one daemon thread collects cycles every `interval_s` instead. First it imports
    the big libraries and freezes their ~330,000 objects (`gc.freeze`): a full collection
    then takes milliseconds instead of ~1 s with the GIL held, which stalled every session
    and the health check. Frozen at the server's first visit, not later: what is alive when
    freezing is never collected, so sessions open then would stay in memory for good."""
    if _started.is_set():
        return
    _started.set()
    limit_malloc_arenas()  # before the sessions' script threads start

    def loop() -> None:
        for name in FROZEN:
            importlib.import_module(name)
        gc.collect()
        gc.freeze()
        while True:
            threading.Event().wait(interval_s)
            close_expired_sessions()
            gc.collect()
            give_back_free_memory()  # what closed sessions and finished photos freed goes back to the system

    threading.Thread(target=loop, name="netlens-gc", daemon=True).start()


FEATURE_PAGE_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))  # one per core


@contextmanager
def feature_page_slot(wait_s: float = 180.0, notice=None) -> Iterator[None]:
    """Hold one of FEATURE_PAGE_SLOTS while a feature page's script runs (Convolution, Training,
    …: photos, figures, models). Thirty of them at once would only share the cores while taking
    turns at the server's one interpreter lock, so a page switch, Home, the Glossary and the
    health check would wait behind all of them; in turn, each runs at full speed and the light
    pages slip in between. ``notice(text)`` shows a wait of more than half a second."""
    if not FEATURE_PAGE_SLOTS.acquire(timeout=0.5):
        if notice is not None:
            notice("Many students are working right now: this page starts in a moment.")
        if not FEATURE_PAGE_SLOTS.acquire(timeout=wait_s):
            raise TimeoutError("The server is very busy right now. Please try again in a minute.")
    _held.slot = True
    try:
        yield
    finally:
        _held.slot = False
        FEATURE_PAGE_SLOTS.release()


_held = threading.local()  # whether this script thread holds a feature page slot


@contextmanager
def slot_released() -> Iterator[None]:
    """Give this thread's feature page slot back while it only waits on another process (a zip decoded
    in a worker): other pages run meanwhile. Taken again (waiting in turn) before the page goes on."""
    if not getattr(_held, "slot", False):
        yield
        return
    FEATURE_PAGE_SLOTS.release()
    _held.slot = False
    try:
        yield
    finally:
        FEATURE_PAGE_SLOTS.acquire()
        _held.slot = True


def session_id() -> str:
    """This browser session's id (stable across reruns; 'bare' outside a Streamlit run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "bare"


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def registries() -> dict:
    """The server-wide job registries that exist so far (training, t-SNE)."""
    from analysis import jobs

    return jobs.shared_registries()


def _runtime():
    """Streamlit's Runtime of this server (its internals: `_session_mgr`), or None outside a server."""
    from streamlit.runtime import Runtime

    return Runtime.instance() if Runtime.exists() else None


def active_sessions() -> int:
    """How many browser sessions this server holds; 0 outside a server or if those internals change."""
    try:
        return len(_runtime()._session_mgr.list_active_sessions())
    except Exception:  # not running under a server (tests) or Streamlit internals changed
        return 0


def kept_sessions() -> int:
    """Closed sessions this server still holds for a reconnect (`server.disconnectedSessionTTL`),
    expired ones included until close_expired_sessions() shuts them down; 0 outside a server."""
    try:
        return len(_runtime()._session_mgr._session_storage._cache._data)
    except Exception:  # not running under a server (tests) or Streamlit internals changed
        return 0


def close_expired_sessions() -> int:
    """Shut down the browser sessions that disconnected longer than `server.disconnectedSessionTTL`
    ago; how many. Streamlit keeps a disconnected session for that long so a reconnect resumes
    it, but removes it from its storage only on a later write (the next disconnect) and then
    never shuts it down: the session, its uploaded files and its pictures stayed in memory for
    good (~7 MB per 12 MP photo; all of a class that leaves together). A session whose storage
    entry Streamlit dropped itself keeps no upload either. 0 if Streamlit's internals change."""
    try:
        rt = _runtime()
        mgr = rt._session_mgr
        with mgr._storage_lock:
            expired = mgr._session_storage._cache.expire()
            known = {i.session.id for i in mgr.list_active_sessions()} | set(mgr._session_storage._cache._data)
        for _, info in expired:
            info.session.shutdown()
        uploads = rt.uploaded_file_mgr
        orphans = set(getattr(uploads, "file_storage", {})) - known  # gone without a shutdown
        for sid in orphans:
            uploads.remove_session_files(sid)
            rt.media_file_mgr.clear_session_refs(sid)
        if orphans:
            rt.media_file_mgr.remove_orphaned_files()
        return len(expired)
    except Exception:  # not running under a server (tests) or Streamlit internals changed
        return 0


def server_stats() -> dict:
    """Sessions, memory and threads of this server process, for the admin view."""
    return {"sessions": active_sessions(), "kept": kept_sessions(), "rss_mb": rss_mb(),
            "threads": threading.active_count()}
