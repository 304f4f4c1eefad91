"""Process-wide set-up that must happen once per server, not once per rerun.

Imported modules run once per process; page scripts re-execute on every rerun, so
anything here is safe to call from them. The only module that touches Streamlit's internals
(its Runtime, session manager and script-run context).
"""
from __future__ import annotations

import gc
import importlib
import secrets
import threading
import time
from contextlib import contextmanager
from datetime import date, datetime
from datetime import time as clock_time
from typing import Callable, Iterator

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from streamlit import config as st_config
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from analysis.compute import jobs
from analysis.compute.cpus import usable_cpus
from analysis.compute.malloc import give_back_free_memory, limit_malloc_arenas

GC_INTERVAL_S = 10.0  # cheap once the libraries are frozen (below)
_started = threading.Event()


_AFTER_CLOSE: list[Callable[[], None]] = []  # run by the GC thread after expired sessions are shut down
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
            for hook in list(_AFTER_CLOSE):
                hook()
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


def after_sessions_closed(hook: Callable[[], None]) -> None:
    """``hook()`` runs in the GC thread every GC_INTERVAL_S, after expired sessions were shut down
    (saved work forgets the browsers whose sessions all expired). Added once."""
    if hook not in _AFTER_CLOSE:
        _AFTER_CLOSE.append(hook)


def session_ttl_s() -> float:
    """How long a closed tab's session is kept for a reconnect (`server.disconnectedSessionTTL`)."""
    try:
        return float(st_config.get_option("server.disconnectedSessionTTL"))
    except Exception:  # an unknown option in another Streamlit
        return 120.0


def session_state_of(session_id: str) -> tuple[object | None, bool]:
    """(its st.session_state, connected) of a session this server still holds, connected or kept for a
    reconnect within its TTL; (None, False) when it is gone or Streamlit's internals changed."""
    try:
        mgr = _runtime()._session_mgr
        info = mgr.get_session_info(session_id)  # an ActiveSessionInfo while connected, else a SessionInfo
        if info is None:
            return None, False
        return info.session.session_state, mgr.is_active_session(session_id)
    except Exception:  # not under a server, or Streamlit internals changed
        return None, False


def session_held(session_id: str) -> bool:
    """True while this server holds the session: connected, or closed less than its TTL ago."""
    return session_state_of(session_id)[0] is not None


# Widgets whose value a script may not set (st.session_state[key] = … raises when the widget is drawn):
# buttons, uploaders, the camera, charts' selections, the data editor.
_NOT_SETTABLE = {"trigger_value", "string_trigger_value", "json_trigger_value", "file_uploader_state_value",
                 "chat_input_value"}
_PLAIN = (bool, int, float, str, type(None), date, datetime, clock_time)


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN)


def carried_state(state) -> dict:
    """What of a session's st.session_state another session of the same browser can take over: every key
    the app set (the features' objects) and keyed widgets' plain values (choices, numbers, text), never a
    value a script may not set (buttons, uploaders, chart selections). {} if Streamlit's internals changed."""
    try:
        widgets = state._new_widget_state.widget_metadata
        mapper = state._key_id_mapper
        out = {}
        for key, value in state.filtered_state.items():
            wid = mapper.get_id_from_key(key, None)
            if wid is None or wid == key:  # not a widget: the app's own value
                out[key] = value
                continue
            meta = widgets.get(wid)
            if meta is not None and meta.value_type not in _NOT_SETTABLE and _plain(value):
                out[key] = value
        return out
    except Exception:  # Streamlit internals changed
        return {}


class WorkCookie:
    """ASGI middleware: a page load (GET of an app page, not Streamlit's own endpoints) without a valid
    work id gets a new one in an HTTP-only, SameSite=Lax cookie ``name`` (Secure over https). ``renew(value)``
    says whether the browser's value (or None) stands (None) or returns the value to set; the id never
    appears in a URL, and page scripts read it with ``st.context.cookies`` (sent with the websocket)."""

    SKIP = ("/_stcore/", "/static/", "/media/", "/component/", "/app/static/")

    def __init__(self, app, name: str, renew: Callable[[str | None], str | None]):
        self.app, self.name, self.renew = app, name, renew

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or scope.get("method") != "GET" or any(
                s in scope.get("path", "") for s in self.SKIP):
            return await self.app(scope, receive, send)
        value = None
        for k, v in scope.get("headers", []):
            if k == b"cookie":
                for part in v.decode("latin-1").split(";"):
                    n, _, val = part.strip().partition("=")
                    if n == self.name:
                        value = val
        try:
            new = self.renew(value)
        except Exception:  # never let saved work stop a page from loading
            new = None
        if new is None:
            return await self.app(scope, receive, send)
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{self.name}={new}; Path=/; HttpOnly; SameSite=Lax{secure}".encode("latin-1")

        async def send_with_cookie(message):
            if message.get("type") == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [(b"set-cookie", cookie)]
            await send(message)

        return await self.app(scope, receive, send_with_cookie)


def new_work_id() -> str:
    """A random, unguessable id (256 bits) for a browser's saved work."""
    return secrets.token_urlsafe(32)


def now() -> float:
    return time.monotonic()


def work_cookie(name: str, renew: Callable[[str | None], str | None]) -> list:
    """The middleware list for ``st.App``: the work-id cookie (WorkCookie)."""
    return [Middleware(WorkCookie, name=name, renew=renew)]

