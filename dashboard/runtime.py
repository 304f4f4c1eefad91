"""Process-wide set-up that must happen once per server, not once per rerun.

Imported modules run once per process; page scripts re-execute on every rerun, so
anything here is safe to call from them.
"""
from __future__ import annotations

import gc
import sys
import threading

from analysis.workers import give_back_free_memory

GC_INTERVAL_S = 10.0  # cheap once the libraries are frozen (below)
_started = threading.Event()


FROZEN_AFTER = ("torch", "sklearn", "plotly.graph_objs")  # the big libraries the server imports


def start_gc_thread(interval_s: float = GC_INTERVAL_S) -> None:
    """`runner.postScriptGC = false` saves ~320 ms of CPU per rerun once torch is
    loaded; one daemon thread collects cycles every `interval_s` instead. Once the big
    libraries are imported, their ~330,000 objects are frozen (`gc.freeze`): a full
    collection then takes milliseconds instead of ~1 s with the GIL held, which stalled
    every session and the health check (measured: benchmarks/README.md, Load)."""
    if _started.is_set():
        return
    _started.set()

    def loop() -> None:
        frozen = False
        while True:
            threading.Event().wait(interval_s)
            gc.collect()
            give_back_free_memory()  # what closed sessions and finished photos freed goes back to the system
            if not frozen and all(name in sys.modules for name in FROZEN_AFTER):
                gc.freeze()  # once: what is alive now stays (libraries, the first sessions' few objects)
                frozen = True

    threading.Thread(target=loop, name="netlens-gc", daemon=True).start()


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


def active_sessions() -> int:
    """How many browser sessions this server holds. The ONE place that touches Streamlit's
    internals (`Runtime._session_mgr`); 0 outside a server or if those internals change."""
    try:
        from streamlit.runtime import Runtime

        return len(Runtime.instance()._session_mgr.list_active_sessions())
    except Exception:  # not running under a server (tests) or Streamlit internals changed
        return 0


def server_stats() -> dict:
    """Sessions, memory and threads of this server process, for the admin view."""
    return {"sessions": active_sessions(), "rss_mb": rss_mb(), "threads": threading.active_count()}
