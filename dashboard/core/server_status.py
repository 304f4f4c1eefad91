"""What the /admin page draws: this server's sessions, memory budget, worker processes and job
queues, each as metrics or a table (the page only composes them, behind the admin password)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.core import cluster_status, runtime, server

MB = 1024 * 1024


def overview_ui() -> None:
    """Six metrics (two rows: six in one row cut their labels short), then the cluster's section."""
    stats = runtime.server_stats()
    memory, warm = server.MEMORY.stats(), server.warm_state()
    c = st.columns(3) + st.columns(3)
    c[0].metric("Sessions open", stats["sessions"])
    c[1].metric("Closed, kept for a reconnect", stats["kept"],
                help="A closed browser tab's session is kept for server.disconnectedSessionTTL seconds, so that a "
                     "reconnect resumes it; then it is shut down and its uploads freed (checked every 10 s).")
    c[2].metric("Warm-up", warm["state"] + (f" ({warm['error']})" if warm["error"] else ""),
                help="At start the server trains the default models, then the default maps.")
    c[3].metric("Server memory (RSS)", f"{stats['rss_mb']:,.0f} MB")
    c[4].metric("Memory budget reserved",
                f"{memory['reserved_bytes'] / MB:,.0f} of {memory['total_bytes'] / MB:,.0f} MB",
                help="NETLENS_MEMORY_MB: heavy work (big decodes and filters, trainings, maps) reserves its bytes "
                     "first.")
    c[5].metric("Threads", stats["threads"])
    cluster_status.admin_section()


def memory_table(memory: dict) -> pd.DataFrame | None:
    """The budget's holders, then those waiting in line (None when there are none)."""
    rows = [{"state": "holds", **r} for r in memory["holders"]] + \
        [{"state": f"waits (place {r['position']})", **r} for r in memory["waiting"]]
    if not rows:
        return None
    return pd.DataFrame([{"state": r["state"], "who": r["holder"], "what": r["label"], "MB": round(r["bytes"] / MB),
                          "seconds": r["seconds"]} for r in rows])


def memory_ui() -> None:
    st.subheader("Memory budget")
    table = memory_table(server.MEMORY.stats())
    if table is None:
        st.write("No reservations: no heavy work running or waiting.")
    else:
        st.dataframe(table, hide_index=True)


def workers_ui() -> None:
    workers = server.worker_stats()
    st.subheader("Worker processes")
    st.caption(f"{workers['max_workers']} worker process(es) (NETLENS_WORKERS; 0: jobs run in the server's threads), "
               f"{workers['threads_per_worker']} torch thread(s) each; {workers['waiting']} job(s) waiting for one; "
               f"{workers['started_total']} started since the server started.")
    if workers["workers"]:
        st.dataframe(pd.DataFrame(workers["workers"]), hide_index=True)


def jobs_ui() -> None:
    """Every job registry of this server: its numbers, then one row per job."""
    for name, reg in runtime.registries().items():
        st.subheader(f"Jobs: {name}")
        st.write(reg.stats())
        st.dataframe(pd.DataFrame([{"label": j.label, "status": j.status, "progress": j.progress,
                                    "message": j.message, "watchers": len(j.watchers)} for j in reg.jobs()]),
                     hide_index=True)
