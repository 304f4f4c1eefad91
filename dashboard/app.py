"""NetLens: the single Streamlit entry. Run from the repository root:

    python -m streamlit run dashboard/app.py
"""
import streamlit as st

from dashboard import access, chrome, cluster_status, nav, runtime, server

chrome.start_present_from_url()
st.set_page_config(page_title="NetLens", page_icon=":material/visibility:", layout="wide",
                   initial_sidebar_state="collapsed" if chrome.presenting() else "auto")  # projector: fewer controls
runtime.start_gc_thread()
if not server.warm_state()["started"]:  # once per process: the default models, then the default maps
    from dashboard import representations_state, training_state

    server.warm_up(training_state.warm_models, representations_state.warm_maps)
if access.configured(access.CLASS) and not st.session_state.get("access_password_ok"):
    st.title("NetLens")
if not access.granted(access.CLASS):
    st.stop()
page = st.navigation(nav.all_pages())
chrome.sidebar(page.url_path)  # before the page: a page's st.stop() would drop anything drawn after it
cluster_status.banner(page.url_path)  # a job page, when the cluster back end cannot run jobs now: why
if nav.is_feature(page.url_path):  # one feature page per core at once: light pages never wait behind thirty
    spot = st.empty()
    try:
        with runtime.feature_page_slot(notice=lambda text: spot.info(text, icon=":material/hourglass_top:")):
            spot.empty()
            page.run()
    except TimeoutError as e:
        spot.warning(str(e), icon=":material/hourglass_top:")
else:
    page.run()
