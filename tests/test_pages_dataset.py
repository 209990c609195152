"""The Dataset page: browsing by split and class with paging and shuffle, statistics, map."""

import numpy as np
import pytest

from fmnist_core.data import stratified_subset
from ui import charts, dataset_stats
from ui.navigation import path_of
from ui.text import escape_markdown

from pages_support import open_page, texts

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


@pytest.mark.slow  # a 2-D map of thousands of real images
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


def dialog_titles(app) -> list[str]:
    """The titles of the dialogs open in an AppTest run."""
    found = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if (
            getattr(proto, "DESCRIPTOR", None) is not None
            and proto.DESCRIPTOR.name == "Block"
            and proto.WhichOneof("type") == "dialog"
        ):
            found.append(proto.dialog.title)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(app._tree)
    return found


def test_paging_under_the_grid_whole_class_names_and_a_titled_zoom():
    app = open_page(PAGE)
    first = grid_captions(app)
    assert app.button(key="dataset_previous").disabled
    app.button(key="dataset_next").click().run()
    assert not app.exception
    assert app.number_input(key="dataset_page").value == 2 and grid_captions(app) != first
    # "T-shirt/top" must not break into "T-", "shirt/", "top" in a narrow caption.
    assert not any("-" in c or c.endswith("/") for c in grid_captions(app))
    app.button(key="dataset_grid_enlarge_0").click().run()
    assert not app.exception
    numbers = [caption.split()[0][1:] for caption in grid_captions(app)]
    assert dialog_titles(app) == [f"Training set, image {numbers[0]}"]
    assert app.button(key="dataset_grid_zoom_previous").disabled
    app.button(key="dataset_grid_zoom_next").click().run()  # the next image, its own title
    assert not app.exception
    assert dialog_titles(app) == [f"Training set, image {numbers[1]}"]


def test_a_shuffle_adds_nothing_to_the_servers_cache():
    """Every Shuffle click brings a new seed; a cache keyed by it never forgot one."""
    assert not hasattr(dataset_stats.browse_order, "clear")  # a plain function, not cached
    assert hasattr(dataset_stats.file_order, "clear")  # what is cached has 22 keys at most


def test_the_classes_have_a_palette_made_for_ten():
    import plotly.express as px

    assert list(charts.CLASS_COLORS.values()) == px.colors.qualitative.T10


def test_the_map_figure_gives_a_click_its_test_index_on_both_maps():
    points = np.arange(40, dtype=float).reshape(20, 2)
    indices, labels = np.arange(100, 120), np.arange(20) % 10
    plain = charts.map_figure(points, indices, labels, title="PCA of 20 test images")
    assert [trace.name for trace in plain.data] == list(charts.CLASS_COLORS)
    assert plain.data[3].customdata[0] == [103]  # lists, not base64 arrays
    predicted = labels.copy()
    predicted[5] = 0
    marked = charts.map_figure(points, indices, labels, predicted, star=np.zeros(2))
    assert [trace.name for trace in marked.data][-2:] == ["misclassified", "your image"]
    assert marked.data[-2].customdata == ([105],)
    click = {"selection": {"points": [{"customdata": [105]}]}}
    assert charts.clicked_index(click) == 105
    assert charts.clicked_index({"selection": {"points": [{"customdata": 7}]}}) == 7
    assert charts.clicked_index({"selection": {"points": []}}) is None
    assert charts.clicked_index(None) is None
