"""NetLens: the single Streamlit entry. Run from the repository root:

    python -m streamlit run dashboard/app.py
"""
import streamlit as st

from dashboard import chrome, nav, runtime

st.set_page_config(page_title="NetLens", page_icon=":material/visibility:", layout="wide")
runtime.start_gc_thread()
chrome.start_present_from_url()
if not chrome.access_granted():
    st.stop()
page = st.navigation(nav.all_pages())
chrome.sidebar(page.url_path)
page.run()
