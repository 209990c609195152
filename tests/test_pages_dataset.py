"""The Dataset page: browsing by split and class with paging and shuffle, statistics, map."""

import numpy as np

from pages_support import open_page, texts
from ui.dataset_stats import stratified_subset
from ui.navigation import path_of
from ui.text import escape_markdown

PAGE = path_of("dataset")


def grid_captions(app) -> list[str]:
    """Captions of the grid's thumbnails ("#12 · Sneaker"), in order."""
    return [caption for caption in texts(app.caption) if caption.startswith("#")]


def test_browse_shows_a_page_of_forty_images_of_the_chosen_class():
    app = open_page(PAGE)
    assert not app.exception
    assert len(grid_captions(app)) == 40
    app.selectbox(key="dataset_class").set_value("Sneaker").run()
    captions = grid_captions(app)
    assert len(captions) == 40 and all(c.endswith("Sneaker") for c in captions)
    app.number_input(key="dataset_page").set_value(150).run()  # 6,000 sneakers: the last page
    assert not app.exception and len(grid_captions(app)) == 40


def test_shuffle_changes_the_order_and_the_test_split_has_other_images():
    app = open_page(PAGE)
    first = grid_captions(app)
    app.button(key="dataset_shuffle").click().run()
    assert grid_captions(app) != first
    app.segmented_control(key="dataset_split").set_value("test").run()
    assert not app.exception and len(grid_captions(app)) == 40


def test_statistics_and_map_tabs_draw_their_charts():
    app = open_page(PAGE)
    app.session_state["dataset_tab"] = "Statistics"
    app.run()
    assert not app.exception
    assert len(app.get("plotly_chart")) == 3  # counts, mean images, histogram
    app.session_state["dataset_tab"] = "2-D map"
    app.run()
    assert not app.exception
    assert len(app.get("plotly_chart")) == 1
    assert any("Click a dot" in text for text in texts(app.info))


def test_stratified_subset_takes_every_class_equally():
    labels = np.repeat(np.arange(10), 50)
    subset = stratified_subset(labels, per_class=7, seed=1)
    assert np.bincount(labels[subset], minlength=10).tolist() == [7] * 10


def test_escape_markdown_makes_user_text_literal():
    name = "<b>*evil*</b> :red[x] $x$ [link](http://a) a\nb"
    escaped = escape_markdown(name)
    for raw in ("<b>", "*evil*", ":red[", "$x$", "[link]("):
        assert raw not in escaped
    assert "\n" not in escaped
