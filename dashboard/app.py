"""NetLens: the single Streamlit entry. Run from the repository root:

    python -m streamlit run dashboard/app.py

`streamlit run` finds the `st.App` below and serves it: its lifespan runs when the server starts,
before anyone visits, and starts the warm-up (the default models, then the default maps, in the
background). Every visit then runs this file as the page script (main()).
"""
import contextlib

import streamlit as st

from dashboard import nav
from dashboard.core import access, chrome, cluster_status, guard, pages, runtime, saved_work, server, training_jobs
from dashboard.representations import state as representations_state


@contextlib.asynccontextmanager
async def lifespan(_app):
    """Once, when the server starts: the GC thread, then the warm-up (dashboard.core.server)."""
    runtime.start_gc_thread()
    runtime.guard_uploads(access.may_upload)  # before anyone connects
    runtime.after_sessions_closed(saved_work.prune)  # a browser's work id expires with its sessions
    server.warm_up(training_jobs.warm_models, representations_state.warm_maps)  # default models, then maps
    yield


def main() -> None:
    chrome.start_present_from_url()
    st.set_page_config(
        page_title="NetLens",
        page_icon=":material/visibility:",
        layout="wide",
        initial_sidebar_state="collapsed" if chrome.presenting() else "auto",
    )  # projector: fewer controls
    runtime.start_gc_thread()  # started by the lifespan already; here for AppTest, which has none
    runtime.guard_uploads(access.may_upload)  # no upload is stored before the class password
    locked = access.configured(access.CLASS) and not access.passed(access.CLASS)
    # The page is resolved before the gate (its menu hidden meanwhile): a shared link's page and settings
    # survive the password.
    page = st.navigation(pages.all_pages(), position="hidden" if locked else "sidebar")
    if locked:
        st.title("NetLens")
    if not access.granted(access.CLASS):
        st.stop()
    saved_work.carry_over(page.url_path)  # a reload in the same browser: the previous session's work comes back
    chrome.sidebar(
        page.url_path, reset=nav.reset_of(page.url_path)
    )  # before the page: a page's st.stop() would drop anything drawn after it
    cluster_status.banner(page.url_path)  # a job page, when the cluster back end cannot run jobs now: why
    saved_work.notice(page.url_path)
    with guard.page_errors(page.url_path):  # an unexpected error: a plain message and an id, never a traceback
        if pages.is_feature(page.url_path):  # one feature page per core at once: light pages never wait behind thirty
            spot = st.empty()
            try:
                with runtime.feature_page_slot(notice=lambda text: spot.info(text, icon=":material/hourglass_top:")):
                    spot.empty()
                    page.run()
            except TimeoutError as e:
                spot.warning(str(e), icon=":material/hourglass_top:")
        else:
            page.run()


if not runtime.in_script_run():  # imported by `streamlit run` to serve, not a visit
    app = st.App(__file__, lifespan=lifespan,
                 middleware=runtime.work_cookie(saved_work.COOKIE, saved_work.renew))  # the work id, HTTP-only
else:
    main()
