"""Classify a real photo through the upload box: a prediction and the 28x28 image the
model sees appear."""

from __future__ import annotations

import pytest

from driver import (
    error_texts,
    open_app_page,
    prediction_heading,
    sample_photo,
    upload_files,
    use_model,
    wait_for_visible,
)

pytestmark = pytest.mark.browser


def test_upload_a_photo_shows_prediction_and_28x28_input(page, app_server, seed_model, screenshots):
    open_app_page(page, app_server, "classify")
    use_model(page, seed_model)
    upload_files(page, [sample_photo("t-shirt")])

    heading = prediction_heading(page)
    wait_for_visible(page, heading)
    assert error_texts(page) == []
    preview = page.locator("[data-testid=stImage]").filter(has_text="What the model sees (28x28)")
    wait_for_visible(page, preview)
    width, height = preview.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width == height and width % 28 == 0, (width, height)  # 28x28, enlarged by a whole factor
    screenshots(page, "classify-photo")
