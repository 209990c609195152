"""The Insights page and the insight widgets under real Streamlit (AppTest)."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from pages_support import TIMEOUT, open_page, save_tiny_model, texts, tiny_classifier

PAGE = "pages/insights.py"


@pytest.fixture
def no_bundle(models_dir, monkeypatch):
    """Only the models of the private registry, whatever assets/ holds."""
    from fmnist_core import registry

    monkeypatch.setattr(registry, "default_model_path", lambda: models_dir / "no-bundle")
    return models_dir


def suspect_captions(app: AppTest) -> list[str]:
    return [text for text in texts(app.caption) if text.startswith("given ")]


def given_label_chance(caption: str) -> float:
    """The chance a suspect's caption says the model gives its label ("given Shirt: 0.4%
    · model ...", "1 in 25,000", "under 1 in a million")."""
    said = re.search(r"^given [^:]+: (.+?) · model ", caption).group(1)
    if said.endswith("%"):
        return float(said[:-1]) / 100
    return 0.0 if said.startswith("under") else 1 / float(said.removeprefix("1 in ").replace(",", ""))


def test_chances_read_as_percentages_then_odds():
    from ui.insights import chance

    assert [chance(p) for p in (0.0123, 0.00099, 4e-5, 2e-7)] == [
        "1.2%",
        "1 in 1,000",
        "1 in 25,000",
        "under 1 in a million",
    ]


def test_a_change_that_rounds_to_nothing_has_no_arrow_and_no_colour():
    from ui.insights import _change

    assert _change(0.0081, 0.0079) == {"delta": "unchanged from 0.008", "delta_color": "off", "delta_arrow": "off"}
    assert _change(0.0300, 0.0120) == {"delta": "-0.018 from 0.030", "delta_color": "inverse"}


def _open_tab(app: AppTest, tab: str) -> AppTest:
    app.session_state["insights_tab"] = tab
    app.run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    return app


def test_every_tab_draws_its_content(no_bundle):
    save_tiny_model("tiny")
    app = open_page(PAGE, active_model="registry:tiny")
    assert not app.exception and not app.error

    _open_tab(app, "Embedding map")
    assert len(app.get("plotly_chart")) == 1
    assert any("PCA of the 128 features" in text for text in texts(app.caption))
    assert any("Click a point" in text for text in texts(app.info))

    _open_tab(app, "Suspect labels")
    captions = suspect_captions(app)
    assert len(captions) == 24 and all(" · model " in c for c in captions)
    # Each shows the quantity it is ranked by, least likely label first, explained above.
    chances = [given_label_chance(c) for c in captions]
    assert chances == sorted(chances)
    explained = next(i for i, t in enumerate(texts(app.caption)) if "least likely first" in t)
    assert explained < texts(app.caption).index(captions[0])
    app.number_input(key="insights_suspects_page").set_value(2).run()
    assert not app.exception
    assert len(suspect_captions(app)) == 24 and suspect_captions(app) != captions
    app.button(key="insights_suspects_grid_enlarge_0").click().run()  # the enlarged view
    assert not app.exception
    assert app.radio(key="insights_suspects_why_method").options == ["Occlusion"]  # an MLP
    assert any(c.startswith("Why ") for image in app.image for c in image.captions)

    _open_tab(app, "Calibration")
    assert [m.label for m in app.metric] == [
        "Expected calibration error",
        "ECE on those 5,000",
        "Log loss",
        "Temperature T",
    ]
    assert len(app.get("plotly_chart")) == 1
    # One definition, one number: the Evaluate page's ECE, on all 10,000 test images.
    from fmnist_core.data import load_dataset
    from fmnist_core.evaluation import evaluate

    data = load_dataset()
    ece = evaluate(tiny_classifier().predict_proba(data.x_test), data.y_test).ece
    assert app.metric[0].value == f"{ece:.3f}"
    assert not any(m.delta and m.delta.lstrip("+-").startswith("0.000") for m in app.metric)

    _open_tab(app, "Report")
    assert len(app.get("download_button")) == 1
    assert any("opens in any browser" in text for text in texts(app.caption))


@pytest.fixture
def tiny_cnn_path(no_bundle):
    """An untrained two-layer CNN saved in the private registry."""
    import keras

    from fmnist_core import registry
    from fmnist_core.classifier import KerasClassifier

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28))
    x = keras.layers.Reshape((28, 28, 1))(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    x = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    return registry.save(KerasClassifier(model, "simple_cnn"), "tiny-cnn")


def _widgets_script(path: str) -> None:
    """What the Classify page does with one image, plus the map with that image as a star."""
    from fmnist_core import registry
    from ui.insights import embedding_map_panel, saliency_panel, similar_images_panel
    from ui.resources import dataset_or_stop

    classifier = registry.load(path)
    image = dataset_or_stop().x_test[0]
    saliency_panel(classifier, image, key="classify_saliency", fingerprint=path)
    similar_images_panel(classifier, image, k=6, key="classify_similar", fingerprint=path)
    embedding_map_panel(classifier, fingerprint=path, new_image=image, key="classify_map")


def test_widgets_explain_one_image(tiny_cnn_path):
    app = AppTest.from_function(_widgets_script, args=(str(tiny_cnn_path),), default_timeout=TIMEOUT).run()
    assert not app.exception, app.exception
    method = app.radio(key="classify_saliency_method")
    assert method.options == ["Grad-CAM", "Occlusion"]  # the traced one first: a click's cost
    assert app.image[0].captions[0].startswith("Why ")
    similar = [text for text in texts(app.caption) if " · " in text]
    assert len(similar) == 6 and all(float(text.split(" · ")[1]) <= 1 for text in similar)
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in figure["data"]][-2:] == ["misclassified", "your image"]

    method.set_value("Occlusion").run()
    assert not app.exception and app.image[0].captions[0].startswith("Why ")


def test_a_test_image_is_explained_from_the_maps_made_for_the_whole_test_set(tiny_cnn_path, real_data):
    """The looked-up Grad-CAM of a test image shows what computing it alone would."""
    import numpy as np

    from fmnist_core import registry
    from ui.insights import GRAD_CAM, _saliency, _test_saliency, test_grad_cams

    classifier, fingerprint = registry.load(tiny_cnn_path), str(tiny_cnn_path)
    maps = test_grad_cams(classifier, fingerprint, real_data)
    assert maps is not None and maps.shape == (10_000, 28, 28) and maps.dtype == np.uint8
    for index in (0, 7, 9_999):
        looked_up = _test_saliency(classifier, fingerprint, real_data, maps, index)
        computed = _saliency(classifier, fingerprint, real_data.x_test[index].astype(np.float32), GRAD_CAM)
        assert looked_up[0] == computed[0] and looked_up[2] == computed[2]
        assert np.abs(looked_up[1].astype(int) - computed[1]).max() <= 2  # maps kept in 8 bits
