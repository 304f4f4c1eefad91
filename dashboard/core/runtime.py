"""Process-wide set-up that must happen once per server, not once per rerun.

Imported modules run once per process; page scripts re-execute on every rerun, so
anything here is safe to call from them. The only module that touches Streamlit's internals
(its Runtime, session manager and script-run context).
"""
from __future__ import annotations

import gc
import importlib
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from starlette.exceptions import HTTPException
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from analysis.compute import jobs
from analysis.compute.cpus import usable_cpus
from analysis.compute.malloc import give_back_free_memory, limit_malloc_arenas

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


FEATURE_PAGE_SLOTS = threading.BoundedSemaphore(usable_cpus())  # one per CPU this process may use
_slot = threading.local()  # .held: this script thread holds a slot


@contextmanager
def feature_page_slot(wait_s: float = 180.0, notice=None) -> Iterator[None]:
    """Hold one of FEATURE_PAGE_SLOTS while a feature page's script runs (Convolution, Training,
    …: photos, figures, models). Thirty of them at once would only share the cores while taking
    turns at the server's one interpreter lock, so a page switch, Home, the Glossary and the
    health check would wait behind all of them; in turn, each runs at full speed and the light
    pages slip in between. ``notice(text)`` shows a wait of more than half a second. Slots: the
    CPUs this process may use (affinity, the cgroup's ``cpu.max``), not ``os.cpu_count()``.
    Work that waits inside (for memory) gives the slot back meanwhile: ``give_back_slot()``."""
    if not FEATURE_PAGE_SLOTS.acquire(timeout=0.5):
        if notice is not None:
            notice("Many students are working right now: this page starts in a moment.")
        if not FEATURE_PAGE_SLOTS.acquire(timeout=wait_s):
            raise TimeoutError("The server is very busy right now. Please try again in a minute.")
    _slot.held = True
    try:
        yield
    finally:
        if getattr(_slot, "held", False):
            _slot.held = False
            FEATURE_PAGE_SLOTS.release()


def give_back_slot() -> bool:
    """This thread's feature-page slot goes back while it waits (for memory), so other pages run;
    True if it held one (then call retake_slot() before working again)."""
    if not getattr(_slot, "held", False):
        return False
    _slot.held = False
    FEATURE_PAGE_SLOTS.release()
    return True


def retake_slot(wait_s: float = 180.0) -> None:
    """Take a slot again after give_back_slot(); TimeoutError (the busy message) after ``wait_s``."""
    if not FEATURE_PAGE_SLOTS.acquire(timeout=wait_s):
        raise TimeoutError("The server is very busy right now. Please try again in a minute.")
    _slot.held = True


def in_script_run() -> bool:
    """True while a page script runs (a visit); False when `streamlit run` imports the entry to serve."""
    return get_script_run_ctx(suppress_warning=True) is not None


@contextmanager
def slot_released() -> Iterator[None]:
    """Give this thread's feature page slot back while it only waits on another process (a zip decoded
    in a worker): other pages run meanwhile. Taken again (waiting in turn) before the page goes on."""
    gave = give_back_slot()
    try:
        yield
    finally:
        if gave:
            retake_slot()


def session_id() -> str:
    """This browser session's id (stable across reruns; 'bare' outside a Streamlit run)."""
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

    return jobs.shared_registries()


def _runtime():
    """Streamlit's Runtime of this server (its internals: `_session_mgr`), or None outside a server."""
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


def session_value(session_id: str, key: str, default=None):
    """A key of another session's st.session_state, read from outside its script run (the upload
    guard); `default` when the session is not active or Streamlit's internals changed."""
    try:
        state = _runtime()._session_mgr.get_active_session_info(session_id).session.session_state
        return state[key] if key in state else default
    except Exception:  # no such session, not under a server, or Streamlit internals changed
        return default


def guard_uploads(allowed: Callable[[str], bool]) -> bool:
    """Streamlit's upload endpoint (PUT /_stcore/upload_file/<session>/<file_id>) stores a file only
    for a session that ``allowed(session_id)`` lets in; any other gets 403 and nothing is kept.
    Installed once per server (later calls only replace ``allowed``); False outside a server or if
    Streamlit's internals changed."""
    try:
        mgr = _runtime().uploaded_file_mgr
    except Exception:  # not under a server
        return False
    if getattr(mgr, "_netlens_allowed", None) is None:
        original = mgr.add_file

        def add_file(session_id, file, *args, **kwargs):
            if not mgr._netlens_allowed(session_id):
                raise _refused("Type the class password first; then upload.")
            return original(session_id, file, *args, **kwargs)

        mgr.add_file = add_file
    mgr._netlens_allowed = allowed
    return True


def _refused(text: str) -> Exception:
    """Streamlit's web server (Starlette) answers this as 403 with the text."""
    return HTTPException(status_code=403, detail=text)


def drop_uploads(session_id: str) -> None:
    """Forget every file this session uploaded (a refused password)."""
    try:
        _runtime().uploaded_file_mgr.remove_session_files(session_id)
    except Exception:  # not under a server, or Streamlit internals changed
        pass
