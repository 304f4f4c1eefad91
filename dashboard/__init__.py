"""NetLens Streamlit layer: the entry (app.py), navigation, widgets, figures and
the only place where Streamlit caches wrap analysis functions."""
