"""Admin: sessions, job queues and memory of this server (behind NETLENS_ADMIN_PASSWORD)."""
import streamlit as st

from dashboard.core import access, server_status

st.title("Server status")
if not access.configured(access.ADMIN):
    st.info("The admin view is off. Start the server with NETLENS_ADMIN_PASSWORD set to use it.")
    st.stop()
if not access.granted(access.ADMIN, open_without_password=False):
    st.stop()

server_status.overview_ui()
server_status.memory_ui()
server_status.workers_ui()
server_status.jobs_ui()
st.button("Refresh", key="admin_refresh")
