"""Entry point: sets up the page and routes to the pages in `pages/` (listed in ui.navigation)."""

import streamlit as st

from ui.browser import browser_id
from ui.models import preload_bundled
from ui.navigation import PAGES, mark_routed

st.set_page_config(page_title="Fashion-MNIST Studio", page_icon="👕", layout="wide")

selected = st.navigation(
    [st.Page(page.path, title=page.title, icon=page.icon, default=position == 0) for position, page in enumerate(PAGES)]
)
browser_id()  # in the URL of every page, so a reload finds this person's runs
mark_routed()
preload_bundled()
selected.run()
