"""The Models page: the registry with metrics, broken entries shown as broken, make active,
rename, delete, and the downloads."""

import io
import shutil
import zipfile

import pytest

from fmnist_core.zoo import ZOO
from ui import registry_views
from ui.navigation import path_of

from pages_support import open_page, save_tiny_model, shown_cells, texts

PAGE = path_of("models")


@pytest.fixture
def app(models_dir):
    save_tiny_model("tiny")
    broken = models_dir / "half-saved"
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    return open_page(PAGE)


def test_the_registry_lists_metrics_and_marks_the_broken_entry(app):
    assert not app.exception
    table = app.dataframe[0].value.set_index("name")
    assert table.loc["half-saved", "status"].startswith("broken: ")
    assert table.loc["tiny", "status"] == "ok" and table.loc["tiny", "accuracy"] > 0.5
    app.selectbox(key="models_selected").set_value("registry:half-saved").run()
    assert any("broken" in text for text in texts(app.error))


def test_the_table_shows_dashes_one_percent_format_and_no_server_folder(app, models_dir):
    table = app.dataframe[0].value.set_index("name")
    assert table.loc["half-saved", ["accuracy", "macro F1", "parameters"]].isna().all()
    shown = shown_cells(app.dataframe[0]).set_index("name")
    assert "None" not in shown.to_string() and "nan" not in shown.to_string()
    assert shown.loc["half-saved", "accuracy"] == "—"
    assert shown.loc["tiny", "accuracy"] == f"{table.loc['tiny', 'accuracy']:.1%}"
    assert app.dataframe[0].proto.columns and "large" in app.dataframe[0].proto.columns
    # The reason a model is broken, in full; the server's folders are nobody's business.
    reason = table.loc["half-saved", "status"].removeprefix("broken: ")
    assert any(reason in text.replace("\\", "") for text in texts(app.warning)), reason
    everything = " ".join(texts(app.caption) + texts(app.markdown) + texts(app.warning))
    assert str(models_dir) not in everything


def test_make_active_rename_and_delete(app, models_dir):
    app.selectbox(key="models_selected").set_value("registry:tiny").run()
    app.button(key="models_make_active").click().run()
    assert app.session_state["models_active"] == "registry:tiny"
    app.text_input(key=registry_views.new_name_key("tiny")).set_value("tiny-2")
    next(b for b in app.button if b.label == "Rename").click().run()
    assert not app.exception
    assert (models_dir / "tiny-2").is_dir() and not (models_dir / "tiny").exists()
    assert app.session_state["models_active"] == "registry:tiny-2"
    app.checkbox(key=registry_views.confirm_delete_key("tiny-2")).check()
    next(b for b in app.button if "Delete" in b.label).click().run()
    assert not app.exception
    assert not (models_dir / "tiny-2").exists()
    assert app.session_state["models_active"] == "bundled"


def test_the_rename_field_and_the_delete_box_belong_to_the_model_shown(app, models_dir):
    """A tick for one model must never delete another one picked afterwards."""
    app.selectbox(key="models_selected").set_value("registry:tiny").run()
    app.checkbox(key=registry_views.confirm_delete_key("tiny")).check()
    app.text_input(key=registry_views.new_name_key("tiny")).set_value("typed-for-tiny")
    app.selectbox(key="models_selected").set_value("registry:half-saved").run()
    assert app.text_input(key=registry_views.new_name_key("half-saved")).value == "half-saved"
    assert app.checkbox(key=registry_views.confirm_delete_key("half-saved")).value is False
    next(b for b in app.button if "Delete" in b.label).click().run()
    assert not app.exception
    assert any("Tick the box first" in text for text in texts(app.warning))
    assert (models_dir / "tiny").is_dir() and (models_dir / "half-saved").is_dir()


@pytest.mark.slow  # Evaluate runs the bundled CNN over the 10,000 test images
def test_an_active_model_deleted_by_someone_else_is_replaced_with_a_notice(app, models_dir):
    app.selectbox(key="models_selected").set_value("registry:tiny").run()
    app.button(key="models_make_active").click().run()
    shutil.rmtree(models_dir / "tiny")  # another user of the server deletes it
    app.switch_page(path_of("evaluate")).run()
    assert not app.exception
    assert any("Your active model tiny is no longer available" in t.value for t in app.toast)
    assert app.session_state["models_active"] == "bundled"
    assert app.selectbox(key="eval_model").value == "bundled"


def test_a_bad_new_name_is_refused_politely(app):
    app.selectbox(key="models_selected").set_value("registry:tiny").run()
    app.text_input(key=registry_views.new_name_key("tiny")).set_value("../escape")
    next(b for b in app.button if b.label == "Rename").click().run()
    assert not app.exception
    assert any("Not renamed" in text for text in texts(app.error))


def test_the_zip_holds_the_whole_folder_and_the_card_has_the_metrics(models_dir):
    folder = save_tiny_model("zipped")
    data = registry_views.folder_zip(str(folder), registry_views.folder_stamp(folder))
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"zipped/meta.json", "zipped/model.keras"} <= set(names)
    entry = registry_views.all_entries()["registry:zipped"]
    card = registry_views.model_card(entry)
    assert card.startswith("# Model card: zipped") and "| Sneaker |" in card
    # What the model is and what it traded (the SVM's subset, say) is on the card too.
    assert ZOO["mlp"].description in card
    assert "- training images: 1800, held out for validation: 200" in card


def test_the_usable_active_key_is_only_read(monkeypatch):
    """Asking which model is usable changes nothing; replacing a gone one is its own action."""
    from ui import models

    def refuse(*_args, **_kwargs):
        raise AssertionError("a getter must not act")

    monkeypatch.setattr(models, "active_key", lambda: "registry:gone")
    monkeypatch.setattr(models, "set_active", refuse)
    monkeypatch.setattr(models.st, "toast", refuse)
    options = {"registry:other": "other", models.BUNDLED: "Bundled model"}
    assert models.usable_active_key(options) == models.BUNDLED
    assert models.usable_active_key({"registry:other": "other"}) == "registry:other"
    assert models.usable_active_key({}) == "registry:gone"  # nothing to fall back to
