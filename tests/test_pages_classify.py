"""The Classify page: uploads (one in detail, many as a gallery with a CSV), drawings on a
replaced canvas, test images; bad files give a friendly message with the name escaped."""

import io
import json
import re
import time
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from fmnist_core.classes import CLASS_NAMES
from ui import classify
from ui.models import LoadedModel
from ui.navigation import path_of

from pages_support import open_page, probability_bars, save_tiny_model, texts

PAGE = path_of("classify")


@pytest.fixture
def app(models_dir):
    save_tiny_model("tiny")
    return open_page(PAGE, active_model="registry:tiny")


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_one_uploaded_image_is_shown_in_detail(app, real_data):
    sneaker = real_data.x_test[int(np.flatnonzero(real_data.y_test == 7)[0])]
    app.get("file_uploader")[0].set_value(("sneaker.png", png_bytes(sneaker), "image/png"))
    app.run()
    assert not app.exception and not app.error
    assert any(m.startswith("### ") and "%" in m for m in texts(app.markdown))
    assert len(probability_bars(app)) == 1
    assert any("What the model sees" in c for image in app.image for c in image.captions)


def test_an_upload_can_be_shown_as_a_star_on_the_embedding_map(app, real_data):
    sneaker = real_data.x_test[int(np.flatnonzero(real_data.y_test == 7)[0])]
    app.get("file_uploader")[0].set_value(("sneaker.png", png_bytes(sneaker), "image/png"))
    app.run()
    assert "classify_upload_map_chart" not in {c.key for c in app.get("plotly_chart")}
    app.session_state["classify_upload_panel"] = classify.MAP_PANEL
    app.run()
    assert not app.exception
    chart = next(c for c in app.get("plotly_chart") if c.key == "classify_upload_map_chart")
    trace_names = [trace.get("name") for trace in json.loads(chart.proto.spec)["data"]]
    assert "your image" in trace_names


def test_many_uploads_make_a_gallery_with_a_csv_and_a_bad_file_is_explained(app, real_data):
    files = [(f"test-{i}.png", png_bytes(real_data.x_test[i]), "image/png") for i in range(3)]
    files.append(("<img src=x onerror=alert(1)>.png", b"not an image at all", "image/png"))
    app.get("file_uploader")[0].set_value(files)
    app.run()
    assert not app.exception
    errors = texts(app.error)
    assert len(errors) == 1 and "\\<img" in errors[0]
    assert re.search(r"(?<!\\)[<>]", errors[0]) is None  # every angle bracket escaped
    table = app.dataframe[0].value
    assert len(table) == 4 and table["prediction"].notna().sum() == 3
    assert table["prediction"].dropna().isin(CLASS_NAMES).all()
    assert app.get("download_button")[0].proto.label.startswith("Download the predictions")


def test_a_drawing_from_the_canvas_is_classified(app, monkeypatch):
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[..., 3] = 255
    drawing[60:220, 100:180, :3] = 255  # a bright upright block, like trousers
    monkeypatch.setattr("ui.canvas.draw", lambda key, stroke_width: drawing)
    app.session_state["classify_tab"] = classify.DRAW_TAB
    app.run()
    assert not app.exception and not app.error
    assert len(probability_bars(app)) == 1


def test_an_empty_canvas_asks_for_a_drawing(app, monkeypatch):
    monkeypatch.setattr("ui.canvas.draw", lambda key, stroke_width: None)
    app.session_state["classify_tab"] = classify.DRAW_TAB
    app.run()
    assert not app.exception
    assert any("Draw a garment" in text for text in texts(app.info))


def test_a_test_image_shows_its_true_class(app, real_data):
    app.session_state["classify_tab"] = classify.TEST_IMAGE_TAB
    app.run()
    app.number_input(key="classify_test_index").set_value(5).run()
    assert not app.exception
    truth = CLASS_NAMES[int(real_data.y_test[5])]
    assert any(f"True class: **{truth}**" in text for text in texts(app.markdown))


def test_uploads_are_classified_in_one_batched_call(real_data):
    model = mock.Mock()
    model.predict_proba.side_effect = lambda images: np.full((len(images), 10), 0.1, np.float32)
    model.meta = {}
    loaded = LoadedModel("test", "test", model, "test")
    files = [(f"{i}.png", png_bytes(real_data.x_test[i])) for i in range(5)]
    outcomes = classify.classify_files(loaded, files + [("empty.png", b"")])
    assert model.predict_proba.call_count == 1
    assert [o.prediction is not None for o in outcomes] == [True] * 5 + [False]
    assert "empty" in outcomes[-1].error


def test_the_real_canvas_component_runs_under_apptest(app):
    app.session_state["classify_tab"] = classify.DRAW_TAB
    app.run()
    assert not app.exception
    assert any("Draw a garment" in text for text in texts(app.info))


def test_the_csv_neutralises_file_names_that_look_like_formulas():
    table = classify.outcomes_table(
        [classify.Outcome("=HYPERLINK(1).png", error="bad"), classify.Outcome("shoe.png", error="bad")], "model 'x'"
    )
    lines = classify.table_csv(table).decode().splitlines()
    assert lines[1].startswith("'=HYPERLINK") and lines[2].startswith("shoe.png")


@pytest.mark.slow  # the bundled CNN and the photo model
def test_with_the_bundled_model_a_photo_goes_to_the_photo_model(models_dir):
    """The bundled model answers drawings and dataset images; its photo-tuned version
    answers photos, and the page says so."""
    from hostile import garment

    app = open_page(PAGE, active_model="bundled")
    photo = Image.fromarray(garment(300, 400))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG")
    app.get("file_uploader")[0].set_value(("shirt.jpg", buffer.getvalue(), "image/jpeg"))
    app.run()
    assert not app.exception and not app.error
    assert any("Answered by the photo-tuned bundled model" in c for c in texts(app.caption))
    app.get("file_uploader")[0].set_value(("test.png", png_bytes(np.zeros((28, 28), np.uint8)), "image/png"))
    app.run()
    assert not app.exception and not any("photo-tuned" in c for c in texts(app.caption))


@pytest.mark.slow  # a LiteRT conversion of the model
def test_single_images_move_to_litert_and_the_page_says_what_answered(models_dir):
    """Loading a model starts its LiteRT conversion in the background (a child process);
    TensorFlow answers meanwhile, and each answer says which engine gave it and how fast."""
    app = open_page(PAGE, active_model="bundled")
    app.session_state["classify_tab"] = classify.TEST_IMAGE_TAB
    app.run()
    timings, deadline = [], time.monotonic() + 300  # a limit to wait, not a speed to meet
    while time.monotonic() < deadline and not any("(LiteRT)" in t for t in timings):
        app.number_input(key="classify_test_index").set_value(len(timings) + 1).run()
        assert not app.exception
        timings += [c for c in texts(app.caption) if c.startswith("Answered by the bundled")]
        time.sleep(1)
    assert re.fullmatch(r"Answered by the bundled model in \d+\.\d ms \(LiteRT\)\.", timings[-1]), timings
    assert all(re.search(r"\((LiteRT|TensorFlow)\)", t) for t in timings)


def test_a_class_browses_its_own_test_images(app, real_data):
    app.session_state["classify_tab"] = classify.TEST_IMAGE_TAB
    app.run()
    app.selectbox(key="classify_test_class").set_value("Sneaker").run()
    app.number_input(key="classify_test_position_Sneaker").set_value(3).run()
    assert not app.exception
    index = int(np.flatnonzero(real_data.y_test == CLASS_NAMES.index("Sneaker"))[3])
    assert f"Test image #{index}" in texts(app.caption)
    assert any("True class: **Sneaker**" in text for text in texts(app.markdown))


def test_the_answer_comes_first_and_the_pipeline_is_one_click_away(models_dir):
    from hostile import garment

    app = open_page(PAGE, active_model="bundled")
    buffer = io.BytesIO()
    Image.fromarray(garment(300, 400)).save(buffer, format="JPEG")
    app.get("file_uploader")[0].set_value(("shirt.jpg", buffer.getvalue(), "image/jpeg"))
    app.run()
    captions = [c for image in app.image for c in image.captions]
    assert captions.count("What the model sees (28x28)") == 1
    assert "garment mask" not in captions  # the pipeline is a panel, closed until opened
    app.session_state["classify_upload_panel"] = classify.PIPELINE_PANEL
    app.run()
    captions = [c for image in app.image for c in image.captions]
    assert not app.exception and "garment mask" in captions
    assert captions.count("What the model sees (28x28)") == 1
    assert "model input 28x28" not in captions  # shown once, above


def test_a_photo_answered_by_another_model_offers_the_photo_model(app):
    from hostile import garment

    buffer = io.BytesIO()
    Image.fromarray(garment(300, 400)).save(buffer, format="JPEG")
    app.get("file_uploader")[0].set_value(("shirt.jpg", buffer.getvalue(), "image/jpeg"))
    app.run()
    assert any("never tuned for photos" in text for text in texts(app.info))
    app.button(key="classify_upload_use_photo_model").click().run()
    assert not app.exception
    assert app.selectbox(key="classify_model").value == "bundled"
    assert any("Answered by the photo-tuned bundled model" in c for c in texts(app.caption))


def test_the_gallery_shows_the_photos_and_a_tidy_csv(app, real_data):
    long_name = "a-very-long-file-name-from-a-phone-camera-20261207-123456.png"
    files = [
        (long_name, png_bytes(real_data.x_test[0]), "image/png"),
        ("b.png", png_bytes(real_data.x_test[1]), "image/png"),
    ]
    app.get("file_uploader")[0].set_value(files)
    app.run()
    gallery = app.image[0]
    assert gallery.captions[0].startswith(classify.short_name(long_name) + ":")
    assert len(classify.short_name(long_name)) <= 22
    rows = classify.table_csv(app.dataframe[0].value).decode().splitlines()
    header = rows[0].split(",")
    assert header[:7] == ["file", "prediction", "confidence", "unsure", "second guess", "second confidence", "model"]
    confidence = rows[1].split(",")[2]
    assert len(confidence.split(".")[-1]) <= 4  # no 16-digit confidences
    assert "model 'tiny'" in rows[1]


def test_an_example_is_classified_in_one_click(app):
    from ui.examples import load_examples

    examples = load_examples()
    assert any(e.kind == "photo" for e in examples) and any(e.kind == "drawing" for e in examples)
    drawing = next(e for e in examples if e.kind == "drawing")
    app.button(key=f"classify_example_{drawing.name}").click().run()
    assert not app.exception and not app.error
    assert any(m.startswith("### ") for m in texts(app.markdown))
    assert len(probability_bars(app)) == 1
