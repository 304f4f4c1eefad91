"""NetLens: the single Streamlit entry. Run from the repository root:

    python -m streamlit run dashboard/app.py
"""
import streamlit as st

from dashboard import nav, runtime

st.set_page_config(page_title="NetLens", page_icon=":material/visibility:", layout="wide")
runtime.start_gc_thread()
st.navigation(nav.all_pages()).run()
