"""Click a cell of the Evaluate page's confusion matrix and see the gallery of its images."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from driver import (
    CLASS_NAMES,
    chart,
    click_plotly_point,
    error_texts,
    open_app_page,
    use_model,
    wait_for_visible,
)

pytestmark = pytest.mark.browser

# Every cell's point carries customdata [true, predicted, count, share]: find the mistake
# the model makes most often, in whichever trace draws it, so the clicked cell has images.
BIGGEST_MISTAKE = """el => {
    const traces = el.querySelector('.js-plotly-plot')._fullData;
    let best = null;
    traces.forEach((trace, t) => {
        for (let i = 0; i < (trace.customdata ? trace._length : 0); i++) {
            const [truth, predicted, count] = trace.customdata[i];
            if (truth !== predicted && (best === null || count > best[4])) {
                best = [t, i, truth, predicted, count];
            }
        }
    });
    return best;
}"""


def test_clicking_a_confusion_cell_shows_its_images(page, app_server, seed_model, screenshots):
    open_app_page(page, app_server, "evaluate")
    use_model(page, seed_model)
    matrix = chart(page, "eval_confusion_chart")
    wait_for_visible(page, matrix)
    page.get_by_text("No cell selected yet.").wait_for()

    trace, point, true, predicted, count = matrix.evaluate(BIGGEST_MISTAKE)
    click_plotly_point(page, matrix, trace=trace, point=point)

    title = f"{CLASS_NAMES[true]} taken for {CLASS_NAMES[predicted]}: {count:,} images"
    heading = page.get_by_role("heading", name=title)
    wait_for_visible(page, heading)
    expect(heading).to_be_in_viewport(timeout=10_000)  # scrolled to, not left below the fold
    thumbnails = page.locator("[class*='st-key-eval_cell_grid_enlarge_']")
    assert thumbnails.count() == min(count, 24)  # the gallery's first page
    assert error_texts(page) == []
    # The README's picture: a taller window, from the model picker and its metrics down
    # through the matrix with the clicked cell to the gallery's first row.
    page.set_viewport_size({"width": 1280, "height": 1330})
    page.locator("[data-testid='stSelectbox']").first.evaluate(
        "el => el.scrollIntoView({block: 'start'})")
    screenshots(page, "evaluate-confusion-cell")
