"""Every page routed by streamlit_app.py opens in a real browser without an error, and
leaves a screenshot for the README."""

from __future__ import annotations

import pytest

from driver import AppServer, app_pages, error_texts, main_text, open_app_page

pytestmark = pytest.mark.browser


def test_the_app_routes_pages():
    assert app_pages(), "streamlit_app.py lists no st.Page"


@pytest.mark.parametrize("app_page", app_pages(), ids=lambda p: p.name)
def test_page_loads_without_errors(page, app_server, screenshots, app_page):
    open_app_page(page, app_server, app_page)

    assert error_texts(page) == []
    assert main_text(page).strip(), f"{app_page.title} shows nothing"
    # The page's title appears in the navigation, so the router knows it.
    assert page.get_by_text(app_page.title, exact=True).count() >= 1
    screenshots(page, app_page.name)


def test_a_bookmarked_page_is_routed_on_a_fresh_server(page, tmp_path, artifacts_dir):
    """The first request of a new server names a page (a bookmark): Streamlit's folder mode
    would draw it with file names in the sidebar; ui.navigation.ensure_routed prevents it."""
    server = AppServer(tmp_path, artifacts_dir / "streamlit-fresh-server.log")
    server.start()
    try:
        open_app_page(page, server, "train")
        sidebar = page.get_by_test_id("stSidebarNav")
        sidebar.get_by_text("Train", exact=True).wait_for()
        assert sidebar.get_by_text("streamlit app").count() == 0
        assert page.get_by_role("heading", name="Train a model").count() == 1
        assert error_texts(page) == []
    finally:
        server.stop()
