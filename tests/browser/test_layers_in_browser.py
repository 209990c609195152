"""The Layers view in a real browser: the bundled CNN's on a Classify test image (its
picture is the README's), and an MLP's in the Evaluate page's enlarged-image dialog."""

from __future__ import annotations

import pytest
from test_confusion import BIGGEST_MISTAKE

from driver import (
    chart,
    click_plotly_point,
    error_texts,
    open_app_page,
    open_tab,
    prediction_heading,
    use_model,
    wait_for_visible,
    wait_until_idle,
)

pytestmark = pytest.mark.browser


def test_the_layers_view_shows_the_network_for_a_test_image(page, app_server, screenshots):
    open_app_page(page, app_server, "classify")
    open_tab(page, "Test image")
    wait_for_visible(page, prediction_heading(page))

    page.get_by_role("tab", name="Layers").first.click()
    wait_until_idle(page)
    filters = page.locator("[data-testid=stImage]").filter(has_text="first convolution's")
    wait_for_visible(page, filters)
    maps = page.locator("[data-testid=stImage]").filter(has_text="most active first")
    assert maps.count() >= 3  # every convolution and pooling stage of the bundled CNN
    assert page.locator(".st-key-classify_test_layers_probabilities_bars").count() == 1
    assert error_texts(page) == []
    # The README's picture: from the layer table down through the filters and first maps.
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.get_by_text("The network, layer by layer").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    screenshots(page, "classify-layers")


def test_the_layers_view_opens_in_the_confusion_matrix_image_dialog(page, app_server, seed_model):
    open_app_page(page, app_server, "evaluate")
    use_model(page, seed_model)  # an MLP: the bundled CNN's test-set pass takes minutes when busy
    matrix = chart(page, "eval_confusion_chart")
    wait_for_visible(page, matrix)
    trace, point, *_ = matrix.evaluate(BIGGEST_MISTAKE)
    click_plotly_point(page, matrix, trace=trace, point=point)
    enlarge = page.locator(".st-key-eval_cell_grid_enlarge_0 button").first
    wait_for_visible(page, enlarge)  # the cell's gallery, after the rerun the click caused
    enlarge.click()
    dialog = page.get_by_role("dialog")
    wait_for_visible(page, dialog)
    wait_until_idle(page)
    dialog.get_by_text("Layers: what each layer of the network makes of this image").click()
    wait_until_idle(page)
    wait_for_visible(page, dialog.locator("[data-testid=stImage]").filter(has_text="first dense layer's weights"))
    assert dialog.locator(".st-key-eval_dialog_layers_probabilities_bars").count() == 1
    assert error_texts(page) == []


def test_the_train_page_shows_the_filters_while_it_learns(page, app_server, screenshots):
    from driver import choose_option, fill_number, find_page, wait_for_condition

    open_app_page(page, app_server, find_page("train"))
    choose_option(page, "Model", "Simple CNN")
    fill_number(page, "Epochs", 30)  # still running while the view is looked at
    fill_number(page, "Training images", 2000)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Inside the network after epoch").wait_for(timeout=300_000)
    filters = page.locator("[data-testid=stImage]").filter(has_text="First-layer filters after")
    # The live view is redrawn every second: its pictures must still arrive, not stay blank.
    wait_for_condition(
        lambda: filters.locator("img").evaluate_all(
            "imgs => imgs.length > 0 && imgs.every(img => img.complete && img.naturalWidth > 0)"
        ),
        timeout_s=60,
        what="loaded filter pictures",
    )
    assert error_texts(page) == []
    filters.first.evaluate("el => el.scrollIntoView({block: 'center'})")
    screenshots(page, "train-layers")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Done:").wait_for(timeout=300_000)
