"""What the cluster back end's state means on the pages: the job pages' notice when trainings and
maps cannot run (a wrong setting, the cluster not answering or refusing this server's token), and
the /admin section (the back end, the cluster's address, whether it answers, its jobs by state,
the store's size). The state itself: dashboard.core.server and analysis.compute.cluster.health."""
from __future__ import annotations

import streamlit as st

from dashboard.core import server

JOB_PAGES = ("train", "representations", "predict", "trust")  # the pages whose work runs as cluster jobs


def banner(url_path: str) -> None:
    """On a job page: why trainings and maps cannot run now, if so (asked at most every 10 s)."""
    if url_path in JOB_PAGES:
        notice = server.cluster_notice()
        if notice:
            st.warning(notice, icon=":material/cloud_off:")


def admin_section() -> None:
    o = server.cluster_overview()
    st.subheader("Back end")
    if o["backend"] == "this machine":
        st.markdown("Back end: **this machine** — trainings and maps run in this server's worker processes "
                    "(NETLENS_RAY_ADDRESS is not set).")
        return
    store_mb, entries = o.get("store_mb"), o.get("store_entries")
    c = st.columns(4)
    c[0].metric("Back end", "Ray cluster")
    c[1].metric("Cluster address", o["address"] or "(not set)", help="NETLENS_RAY_ADDRESS: the Ray head's dashboard.")
    c[2].metric("Cluster answers", "yes" if o["answers"] else "no", help="Asked at most every 10 s (GET /api/version).")
    c[3].metric("Store size", "?" if store_mb is None else f"{store_mb:,.1f} MB in {entries} result(s)",
                help="NETLENS_STORE: finished trainings and maps, shared by every app server.")
    if o.get("message"):
        (st.error if o.get("configuration") else st.warning)(o["message"])
    if o.get("insecure"):
        st.error("NETLENS_RAY_INSECURE=1: this server talks to the Ray head without a token. Anyone who can reach "
                 "the head's Jobs API can run any command on the cluster. Turn on token authentication on the head "
                 "(RAY_AUTH_MODE=token), set NETLENS_RAY_TOKEN here and unset NETLENS_RAY_INSECURE.",
                 icon=":material/lock_open:")
    if "jobs" in o:
        states = " · ".join(f"{state} {n}" for state, n in sorted(o["jobs"].items())) or "none"
        st.markdown(f"**Jobs on the cluster by state:** {states}"
                    + (f" (could not list them: {o['jobs_error']})" if o.get("jobs_error") else ""))
        st.caption(f"Results in the store {o['store']} (NETLENS_STORE); {o['submitted']} job(s) submitted from "
                   "this server. The worker processes below run the other jobs (replays).")
