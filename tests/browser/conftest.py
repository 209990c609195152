"""Browser fixtures: one `streamlit run` server per test session, one headless Chromium.

- `app_server` starts the app on a free localhost port with a private, empty model folder
  (`FMNIST_MODELS_DIR`) and `FMNIST_OFFLINE=1`, waits for `/_stcore/health`, and kills the
  server's process group at the end. Its log is kept in `test-artifacts/streamlit-server.log`.
- `browser` is Debian's Chromium (`/usr/bin/chromium`) driven by Playwright; Playwright's own
  browser download does not work here. `page` is a fresh context (1280x900) per test.
- Screenshots go to `test-artifacts/screenshots/`. Run with `UPDATE_SCREENSHOTS=1` to also
  copy them into `assets/screenshots/` for the README:

      UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest -m browser tests/browser/test_pages.py

The helpers the tests share (open a page, wait for the script to finish, find errors, draw,
upload) and the `AppServer` class are in `tests/browser/driver.py`, which
`bench/concurrency.py` uses too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from driver import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, VIEWPORT, AppServer, train_seed_model

ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
BROWSER_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items) -> None:
    """Every test in this folder is a browser test, whether or not its module says so, so
    `-m "not browser"` (make test-fast) never starts a server or Chromium by mistake."""
    for item in items:
        if BROWSER_TESTS in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def app_models_dir(tmp_path_factory) -> Path:
    """The server's private model registry: empty at the start of the session."""
    return tmp_path_factory.mktemp("app-models")


@pytest.fixture(scope="session")
def app_server(app_models_dir, artifacts_dir):
    """The app, started once for the whole session."""
    server = AppServer(app_models_dir, artifacts_dir / "streamlit-server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    """Debian's headless Chromium, shared by every test of the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (own cookies, own Streamlit session) and one tab in it."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def screenshots(artifacts_dir):
    """`screenshots(page, name)` saves `test-artifacts/screenshots/NAME.png` (and, with
    `UPDATE_SCREENSHOTS=1`, a 256-colour copy in `assets/screenshots/` for the README)."""
    folder = artifacts_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    publish = os.environ.get("UPDATE_SCREENSHOTS", "") in ("1", "true", "yes")
    assets = REPO_ROOT / "assets" / "screenshots"

    def save(tab, name: str) -> Path:
        path = folder / f"{name}.png"
        tab.screenshot(path=str(path), full_page=False)
        if publish:  # 256 colours: a third of the size, no visible loss for UI pictures
            assets.mkdir(parents=True, exist_ok=True)
            Image.open(path).convert("RGB").quantize(256).save(assets / path.name, optimize=True)
        return path

    return save


@pytest.fixture(scope="session")
def seed_model(app_models_dir) -> str:
    """A small MLP trained through the CLI into the server's registry, so the pages that
    need a model have a quick one whether or not the bundled model is there."""
    return train_seed_model(app_models_dir)
