"""Click a cell of the Evaluate page's confusion matrix and see the gallery of its images."""

from __future__ import annotations

import numpy as np
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
# the model makes most often, in whichever trace draws it, so the clicked cell has images
# (test_layers_in_browser.py needs just that; counts checked here come from the evaluation).
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

# The trace and point that draw one cell (true, predicted).
FIND_CELL = """(el, [truth, predicted]) => {
    const traces = el.querySelector('.js-plotly-plot')._fullData;
    for (let t = 0; t < traces.length; t++) {
        const trace = traces[t];
        for (let i = 0; i < (trace.customdata ? trace._length : 0); i++) {
            const [row, column] = trace.customdata[i];
            if (row === truth && column === predicted) return [t, i];
        }
    }
    return null;
}"""


@pytest.fixture(scope="module")
def seed_confusion(seed_model, app_models_dir) -> np.ndarray:
    """The seed model's confusion matrix on the test set, computed here with fmnist_core
    (not read off the page), to check what the page shows against."""
    from fmnist_core import registry
    from fmnist_core.data import load_dataset
    from fmnist_core.evaluation import evaluate

    data = load_dataset()
    model = registry.load(app_models_dir / seed_model)
    return evaluate(model.predict_proba(data.x_test), data.y_test).confusion


def test_clicking_a_confusion_cell_shows_its_images(page, app_server, seed_model, seed_confusion, screenshots):
    mistakes = seed_confusion.copy()
    np.fill_diagonal(mistakes, -1)
    true, predicted = (int(v) for v in np.unravel_index(mistakes.argmax(), mistakes.shape))
    count = int(seed_confusion[true, predicted])  # the mistake the model makes most often
    assert count > 0

    open_app_page(page, app_server, "evaluate")
    use_model(page, seed_model)
    matrix = chart(page, "eval_confusion_chart")
    wait_for_visible(page, matrix)
    page.get_by_text("No cell selected yet.").wait_for()

    found = matrix.evaluate(FIND_CELL, [true, predicted])
    assert found is not None, f"no point for cell ({true}, {predicted}) in the matrix"
    click_plotly_point(page, matrix, trace=found[0], point=found[1])

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
    page.locator("[data-testid='stSelectbox']").first.evaluate("el => el.scrollIntoView({block: 'start'})")
    screenshots(page, "evaluate-confusion-cell")
