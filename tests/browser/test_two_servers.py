"""Scaling out: two app servers on one machine sharing one models folder (as several
servers behind a proxy with sticky sessions would) see the same saved models, and a
change made through one is seen by the other."""

from __future__ import annotations

import pytest

from driver import AppServer, open_app_page

pytestmark = pytest.mark.browser


def listed_models(tab, server) -> str:
    """The Models page's list of saved models (its "Manage" box), as one text."""
    open_app_page(tab, server, "models")
    tab.get_by_role("combobox", name="Manage", exact=True).click()
    names = " | ".join(tab.get_by_role("option").all_inner_texts())
    tab.keyboard.press("Escape")
    return names


@pytest.fixture
def second_server(app_models_dir, artifacts_dir):
    server = AppServer(app_models_dir, artifacts_dir / "streamlit-server-2.log")
    server.start()
    yield server
    server.stop()


def test_two_servers_share_saved_models(page, browser, app_server, second_server, seed_model, app_models_dir):
    from fmnist_core import registry

    for server in (app_server, second_server):
        assert seed_model in listed_models(page, server)

    # A model saved into the shared folder by another process (as a save on one server is)
    # is listed by both at once, and a deletion leaves both lists.
    registry.save(registry.load(app_models_dir / seed_model), "shared-copy", folder=app_models_dir)
    try:
        other = browser.new_context().new_page()
        assert "shared-copy" in listed_models(other, second_server)
        registry.delete("shared-copy", folder=app_models_dir)
        assert "shared-copy" not in listed_models(other, second_server)
        assert seed_model in listed_models(other, app_server)
        other.context.close()
    finally:
        if (app_models_dir / "shared-copy").exists():
            registry.delete("shared-copy", folder=app_models_dir)
