"""Page layout helpers shared by the pages."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def lazy_tabs(key: str, sections: dict[str, Callable[[], None]]) -> None:
    """Tabs that run only the open tab's section, so heavy tabs cost nothing until opened.

    The open tab is kept in `st.session_state[key]` (its label), which tests can set.
    """
    tabs = st.tabs(list(sections), key=key, on_change="rerun")
    for tab, draw in zip(tabs, sections.values()):
        if tab.open:
            with tab:
                draw()
