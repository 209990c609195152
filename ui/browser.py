"""An id for the person in this browser, kept in the URL and in a cookie.

A Streamlit session lasts one tab until a reload, so anything that must outlive it (a
training run on the server) is filed under this id instead. It travels as a query parameter,
which a reload and a copied address keep; Streamlit clears query parameters on a page
switch, so the router puts it back on every run. A cookie carries it to a tab opened afresh
(st.context.cookies only reads, so a line of script in the page writes it).
"""

from __future__ import annotations

import re
import uuid

import streamlit as st

PARAM = "browser"  # the query parameter
COOKIE = "fmnist_browser"
KEY = "app_browser_id"  # this session's id, for the runs where the URL has lost it
_VALID = re.compile(r"[0-9a-f]{32}")  # a uuid4 in hex: unguessable, and nothing else is accepted
COOKIE_DAYS = 30


def browser_id() -> str:
    """This browser's id: the one in the URL, else the one in its cookie, else a new one;
    always written back into the URL (and, once per session, the cookie)."""
    known = st.session_state.get(KEY)
    in_url = st.query_params.get(PARAM)
    if known is None:
        found = (in_url, st.context.cookies.get(COOKIE))
        known = (
            next(
                (
                    value
                    for value in found  # (a test's context may hold no strings)
                    if isinstance(value, str) and _VALID.fullmatch(value)
                ),
                None,
            )
            or uuid.uuid4().hex
        )
        st.session_state[KEY] = known
        st.sidebar.html(
            f"<script>document.cookie = '{COOKIE}={known}; path=/; "
            f"max-age={COOKIE_DAYS * 86400}; SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )
    if in_url != known:
        st.query_params[PARAM] = known
    return known
