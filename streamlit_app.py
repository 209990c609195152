"""Entry point: sets up the page and routes to the pages in `pages/`."""

import streamlit as st

st.set_page_config(page_title="Fashion-MNIST Studio", page_icon="👕", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
]

st.navigation(PAGES).run()
