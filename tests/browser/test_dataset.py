"""The Dataset page in the browser: the zoom dialog steps through the grid."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from driver import SLOW, error_texts, open_app_page

pytestmark = pytest.mark.browser


def test_the_zoom_dialog_steps_to_the_next_image_and_names_it(page, app_server):
    open_app_page(page, app_server, "dataset")
    zoom_buttons = page.locator("[class*='st-key-dataset_grid_enlarge_'] button")
    expect(zoom_buttons.first).to_be_visible(timeout=SLOW)
    first, second = (
        page.get_by_test_id("stCaptionContainer").filter(has_text="#").nth(i).inner_text().split()[0][1:]
        for i in (0, 1)
    )
    page.locator(".st-key-dataset_grid_enlarge_0 button").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Training set, image {first}", exact=True)).to_be_visible(timeout=SLOW)
    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_text(f"Training set, image {second}", exact=True)).to_be_visible(timeout=SLOW)
    expect(dialog.get_by_text("2 of 40")).to_be_visible()
    assert error_texts(page) == []
