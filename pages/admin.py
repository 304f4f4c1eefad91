"""Admin: sessions, job queues and memory of this server (behind NETLENS_ADMIN_PASSWORD)."""
import pandas as pd
import streamlit as st

from dashboard.core import access, cluster_status, runtime, server

st.title("Server status")
if not access.configured(access.ADMIN):
    st.info("The admin view is off. Start the server with NETLENS_ADMIN_PASSWORD set to use it.")
    st.stop()
if not access.granted(access.ADMIN, open_without_password=False):
    st.stop()

stats = runtime.server_stats()
memory, workers, warm = server.MEMORY.stats(), server.worker_stats(), server.warm_state()
MB = 1024 * 1024
c = st.columns(3) + st.columns(3)  # two rows: six metrics in one row cut their labels and values short
c[0].metric("Sessions open", stats["sessions"])
c[1].metric("Closed, kept for a reconnect", stats["kept"],
            help="A closed browser tab's session is kept for server.disconnectedSessionTTL seconds, so that a "
                 "reconnect resumes it; then it is shut down and its uploads freed (checked every 10 s).")
c[2].metric("Warm-up", warm["state"] + (f" ({warm['error']})" if warm["error"] else ""),
            help="At start the server trains the default models, then the default maps.")
c[3].metric("Server memory (RSS)", f"{stats['rss_mb']:,.0f} MB")
c[4].metric("Memory budget reserved", f"{memory['reserved_bytes'] / MB:,.0f} of {memory['total_bytes'] / MB:,.0f} MB",
            help="NETLENS_MEMORY_MB: heavy work (big decodes and filters, trainings, maps) reserves its bytes first.")
c[5].metric("Threads", stats["threads"])
cluster_status.admin_section()
st.subheader("Memory budget")
rows = [{"state": "holds", **r} for r in memory["holders"]] + [{"state": f"waits (place {r['position']})", **r}
                                                                  for r in memory["waiting"]]
if rows:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "state": r["state"],
                    "who": r["holder"],
                    "what": r["label"],
                    "MB": round(r["bytes"] / MB),
                    "seconds": r["seconds"],
                }
                for r in rows
            ]
        ),
        hide_index=True,
    )
else:
    st.write("No reservations: no heavy work running or waiting.")
st.subheader("Worker processes")
st.caption(f"{workers['max_workers']} worker process(es) (NETLENS_WORKERS; 0: jobs run in the server's threads), "
           f"{workers['threads_per_worker']} torch thread(s) each; {workers['waiting']} job(s) waiting for one; "
           f"{workers['started_total']} started since the server started.")
if workers["workers"]:
    st.dataframe(pd.DataFrame(workers["workers"]), hide_index=True)
for name, reg in runtime.registries().items():
    st.subheader(f"Jobs: {name}")
    st.write(reg.stats())
    st.dataframe(pd.DataFrame([{"label": j.label, "status": j.status, "progress": j.progress, "message": j.message,
                                "watchers": len(j.watchers)} for j in reg.jobs()]), hide_index=True)
st.button("Refresh", key="admin_refresh")
