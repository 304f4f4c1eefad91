"""NetLens Streamlit layer: the entry (app.py), navigation, one state/controls/view trio per
feature, the shared homes (session, session_models, uploads, access, figures, chrome, links,
runtime) and the only place where Streamlit caches wrap analysis functions."""
