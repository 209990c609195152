"""Page layout helpers shared by the pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

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


def live_view(
    view: Callable[..., None],
    *args: Any,
    polling: bool,
    every: float,
    stop: Callable[[], None],
    stop_key: str,
    stop_help: str,
) -> None:
    """`view(*args, polling)` in a fragment that reruns alone every `every` seconds while
    `polling` (a background job runs), with the job's Stop button above it. The button
    stays outside the fragment, so that a click never has to reach a fragment run that is
    replaced every second (a browser test's Stop went unanswered twice when it was inside)."""
    if polling:
        st.button("Stop", icon=":material/stop:", key=stop_key, on_click=stop, help=stop_help)
    st.fragment(view, run_every=every if polling else None)(*args, polling)


def scroll_to(key: str, request: str) -> None:
    """Bring the container with `key` into view. After a click Streamlit draws what it
    asked for where it belongs on the page, often below the fold with nothing changing in
    sight, and it has no scrolling of its own. `request` names this request (a click's
    target): the browser runs a script once, so the next request must differ."""
    selector = json.dumps(f".st-key-{key}")
    st.html(
        f"""<script data-request={json.dumps(request)}>
(() => {{
  let tries = 0;
  const look = () => {{
    const target = document.querySelector({selector});
    if (target) target.scrollIntoView({{behavior: "smooth", block: "start"}});
    else if (tries++ < 100) setTimeout(look, 100);
  }};
  look();
}})();
</script>""",
        unsafe_allow_javascript=True,
    )
