"""An id for the person in this browser tab, kept in the URL.

A Streamlit session lasts one tab until a reload, so anything that must outlive it (a
training run on the server) is filed under this id instead. It travels as a query parameter:
a reload keeps it, and so does a copied address opened in another tab. Streamlit clears the
query parameters on a page switch, so the router puts the id back on every run.
"""

from __future__ import annotations

import re
import uuid

import streamlit as st

PARAM = "browser"  # the query parameter
KEY = "app_browser_id"  # this session's id, for the runs where the URL has lost it
_VALID = re.compile(r"[0-9a-f]{32}")  # a uuid4 in hex: unguessable, and nothing else is accepted


def browser_id() -> str:
    """This tab's id: the one in the URL when a reload or a copied link brought it, else a
    new one; always written back into the URL."""
    known = st.session_state.get(KEY)
    in_url = st.query_params.get(PARAM)
    if known is None:
        known = in_url if in_url and _VALID.fullmatch(in_url) else uuid.uuid4().hex
        st.session_state[KEY] = known
    if in_url != known:
        st.query_params[PARAM] = known
    return known
