"""Streamlit-side helpers shared by the pages: cached resources, state, common widgets.

This is the only place besides `pages/` and `streamlit_app.py` that imports streamlit.
"""
