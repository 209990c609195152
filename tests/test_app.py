"""The app under real Streamlit (AppTest): every page runs without exception, even with
no model at all, and the Home page names the data's source and the active model."""

import pytest

from ui.navigation import PAGES

from pages_support import open_page, save_tiny_model, texts


def test_home_page_runs_and_names_the_source():
    app = open_page()
    assert not app.exception
    assert any("dataset-fashion-mnist" in c.value for c in app.caption)


@pytest.mark.parametrize("page", [page.path for page in PAGES])
def test_every_page_runs_with_an_empty_registry(page, models_dir, monkeypatch):
    from fmnist_core import registry

    monkeypatch.setattr(registry, "default_model_path", lambda: models_dir / "no-bundle")
    app = open_page(page)
    assert not app.exception
    assert not app.error, texts(app.error)


def test_home_shows_the_active_model_and_its_accuracy(models_dir):
    save_tiny_model("tiny")
    app = open_page(active_model="registry:tiny")
    assert not app.exception
    assert any("tiny" in text and "test accuracy" in text for text in texts(app.success))


def page_links_by_column(app) -> list[list[str]]:
    """The page links of every column of the page that has any, column by column."""
    found = [[link.proto.page for link in column.get("page_link")] for column in app.columns]
    return [links for links in found if links]


def test_home_gives_one_first_step_and_lines_up_the_other_pages(models_dir, monkeypatch):
    from fmnist_core import registry

    save_tiny_model("tiny")
    app = open_page(active_model="registry:tiny")
    assert texts(app.subheader)[:2] == ["Start here", "Every page"]
    first_link = app.get("page_link")[0]
    assert "Classify a photo" in first_link.proto.label
    others = len(PAGES) - 1  # every page but Home, one link a column, in rows of three
    assert [len(links) for links in page_links_by_column(app)] == [1] * others

    monkeypatch.setattr(registry, "default_model_path", lambda: models_dir / "no-bundle")
    (models_dir / "tiny" / "meta.json").unlink()  # no usable model left
    app = open_page()
    assert "Train your first model" in app.get("page_link")[0].proto.label


def test_home_shows_eight_samples_of_every_class_in_one_block():
    from fmnist_core.classes import CLASS_NAMES

    app = open_page()
    block = next(element.proto.body for element in app.get("html") if "data:image/png" in element.proto.body)
    for label, name in enumerate(CLASS_NAMES):
        assert f"{label} · {name}" in block
    assert block.count('<img src="data:image/png;base64,') == 80
