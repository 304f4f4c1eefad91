"""Admin: sessions, job queues and memory of this server (behind NETLENS_ADMIN_PASSWORD)."""
import pandas as pd
import streamlit as st

from dashboard import access, runtime

st.title("Server status")
if not access.configured(access.ADMIN):
    st.info("The admin view is off. Start the server with NETLENS_ADMIN_PASSWORD set to use it.")
    st.stop()
if not access.granted(access.ADMIN, open_without_password=False):
    st.stop()

stats = runtime.server_stats()
c = st.columns(3)
c[0].metric("Sessions open", stats["sessions"])
c[1].metric("Server memory (RSS)", f"{stats['rss_mb']:,.0f} MB")
c[2].metric("Threads", stats["threads"])
for name, reg in runtime.registries().items():
    st.subheader(f"Jobs: {name}")
    st.write(reg.stats())
    st.dataframe(pd.DataFrame([{"label": j.label, "status": j.status, "progress": j.progress, "message": j.message,
                                "watchers": len(j.watchers)} for j in reg.jobs()]), hide_index=True)
st.button("Refresh", key="admin_refresh")
