"""Draw on the canvas with the mouse: the drawing reaches the model, and more strokes
change the prediction."""

from __future__ import annotations

import pytest

from driver import (
    draw_strokes,
    error_texts,
    open_app_page,
    open_tab,
    prediction_heading,
    use_model,
    wait_for_visible,
)

pytestmark = pytest.mark.browser

# Strokes in fractions of the canvas: two trouser legs, then wide bars that join them into
# a blob no longer shaped like trousers. All within the left 3/4 of the canvas, which the
# page's column shows at a 1280-pixel-wide window.
LEGS = [[(0.3, 0.1), (0.25, 0.9)], [(0.55, 0.1), (0.6, 0.9)], [(0.3, 0.1), (0.55, 0.1)]]
FILL = [[(0.08, y), (0.72, y)] for y in (0.25, 0.4, 0.55, 0.7)]


def test_drawing_gives_a_prediction_that_changes_with_more_strokes(page, app_server, seed_model, screenshots):
    open_app_page(page, app_server, "classify")
    use_model(page, seed_model)
    open_tab(page, "Draw")
    page.get_by_text("Draw a garment to see the model's guess.").wait_for()

    draw_strokes(page, LEGS)
    heading = prediction_heading(page)
    wait_for_visible(page, heading)
    first = heading.inner_text()
    screenshots(page, "classify-drawing")

    draw_strokes(page, FILL)
    page.wait_for_function(
        "([first]) => [...document.querySelectorAll('h3')].some("
        "h => /·/.test(h.innerText) && h.innerText.trim() !== first)",
        arg=[first],
        timeout=120_000,
    )
    assert heading.inner_text() != first
    assert error_texts(page) == []
