"""Inside the network (fmnist_core.layers, ui.layers): hand-wired tiny models whose outputs
are worked out by hand, every zoo model's stages, the epoch events' snapshot from a tiny
run, and the Layers view on the Classify and Train pages under AppTest."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from fmnist_core import layers
from fmnist_core.classes import CLASS_NAMES
from ui import classify
from ui.navigation import path_of

from pages_support import open_page, save_tiny_model, texts

EDGE = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)  # Sobel: dark to bright, left to right


def conv_model():
    """Image -> Conv2D(2 filters, 3x3, valid) -> ReLU -> MaxPool -> Flatten -> Dense(10).
    Filter 0 is a Sobel edge detector, filter 1 is zero with a bias of 0.5."""
    import keras

    inputs = keras.Input((28, 28))
    x = keras.layers.Reshape((28, 28, 1), name="reshape")(inputs)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[:, :, 0, 0] = EDGE
    model.get_layer("conv").set_weights([kernel, np.array([0.0, 0.5], np.float32)])
    return model


def dense_model():
    """Image -> Flatten -> Dense(3, relu) with known weights -> Dense(10, softmax)."""
    import keras

    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(3, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((784, 3), np.float32)
    kernel[0, 0] = 1.0  # unit 0: the top-left pixel
    kernel[:, 1] = -1.0 / 784  # unit 1: minus the mean pixel (dead on any image)
    kernel[28 * 14 + 14, 2] = 2.0  # unit 2: twice the centre pixel, minus 10
    model.get_layer("hidden").set_weights([kernel, np.array([0.0, 0.0, -10.0], np.float32)])
    return model


def step_image(column: int = 10, bright: float = 200.0) -> np.ndarray:
    """Black left of `column`, `bright` from it on: one vertical edge."""
    image = np.zeros((28, 28), np.float32)
    image[:, column:] = bright
    return image


def test_a_conv_stage_covers_its_activation_and_outputs_the_hand_computed_maps():
    model = conv_model()
    found = layers.stages(model)
    assert [(s.name, s.role, s.layers, s.shape) for s in found] == [
        ("conv", layers.CONV, ("conv", "relu"), (26, 26, 2)),
        ("pool", layers.POOL, ("pool",), (13, 13, 2)),
        ("scores", layers.DENSE, ("scores",), (10,)),
    ]
    image = step_image()
    outputs = layers.stage_outputs(model, image)
    # By hand: the Sobel response is 4 x 200 where the 3x3 window straddles the edge
    # (window columns 8-10 or 9-11, i.e. output columns 8 and 9), 0 elsewhere; after ReLU.
    expected = np.zeros((26, 26), np.float32)
    expected[:, 8:10] = 800.0
    np.testing.assert_allclose(outputs["conv"][..., 0], expected, atol=1e-3)
    np.testing.assert_allclose(outputs["conv"][..., 1], 0.5, atol=1e-6)  # its bias, everywhere
    pooled = np.zeros((13, 13), np.float32)
    pooled[:, 4] = 800.0  # output columns 8 and 9 fall in pooling column 4
    np.testing.assert_allclose(outputs["pool"][..., 0], pooled, atol=1e-3)
    np.testing.assert_allclose(outputs["scores"], model(image[None]).numpy()[0], atol=1e-6)
    assert layers.channel_order(outputs["conv"]).tolist() == [0, 1]  # 61.5 on average vs 0.5


def test_a_sequential_model_is_run_layer_by_layer_to_the_same_maps():
    import keras

    functional = conv_model()
    sequential = keras.Sequential([keras.Input((28, 28))] + functional.layers[1:])
    image = step_image()
    expected = layers.stage_outputs(functional, image)
    got = layers.stage_outputs(sequential, image)
    assert list(got) == ["conv", "pool", "scores"]
    for name, output in expected.items():
        np.testing.assert_allclose(got[name], output, atol=1e-5)


def test_the_first_filters_are_the_kernels_set_and_drawn_mid_grey_for_zero():
    filters = layers.first_layer_filters(conv_model())
    assert filters.shape == (2, 3, 3)
    np.testing.assert_array_equal(filters[0], EDGE)
    tiles = layers.weight_tiles(filters)
    assert tiles[0].tolist() == [[64, 128, 191], [0, 128, 255], [64, 128, 191]]
    assert (tiles[1] == 128).all()  # an all-zero filter is uniformly mid-grey


def test_a_dense_layer_shows_its_hand_computed_activations_and_weight_images():
    model = dense_model()
    assert [(s.name, s.layers) for s in layers.stages(model)] == [("hidden", ("hidden",)), ("scores", ("scores",))]
    image = np.zeros((28, 28), np.float32)
    image[0, 0], image[14, 14] = 7.0, 9.0
    hidden = layers.stage_outputs(model, image)["hidden"]
    np.testing.assert_allclose(hidden, [7.0, 0.0, 8.0], atol=1e-5)  # relu(7), relu(-16/784), 18-10
    weights = layers.first_layer_filters(model)
    assert weights.shape == (3, 28, 28)
    assert weights[0, 0, 0] == 1.0 and weights[2, 14, 14] == 2.0  # pixel (row, column) kept


def test_feature_tiles_share_one_scale_per_stage():
    activation = np.zeros((2, 2, 3), np.float32)
    activation[..., 0] = 4.0
    activation[0, 0, 1] = 2.0
    tiles = layers.feature_tiles(activation, np.array([1, 0, 2]))
    assert tiles[0].tolist() == [[128, 0], [0, 0]]  # half the stage's highest value
    assert (tiles[1] == 255).all() and (tiles[2] == 0).all()


def test_a_mosaic_places_each_enlarged_tile_in_its_cell():
    tiles = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2) * 20
    picture = layers.mosaic(tiles, columns=2, scale=3, gap=2)
    assert picture.shape == (2 * 6 + 2, 2 * 6 + 2)
    np.testing.assert_array_equal(picture[:6, 8:14], np.kron(tiles[1], np.ones((3, 3), np.uint8)))
    np.testing.assert_array_equal(picture[8:14, :6], np.kron(tiles[2], np.ones((3, 3), np.uint8)))
    labelled = layers.mosaic(tiles, columns=2, scale=3, labels=["0", "1", "2"])
    assert labelled.shape == (2 * (6 + 12) + 2, 14)


def test_a_channel_favours_the_training_images_that_excite_it():
    model = conv_model()
    images = np.zeros((6, 28, 28), np.float32)
    images[4] = step_image(bright=250)
    images[1] = step_image(bright=100)
    images[2] = step_image(bright=100)[:, ::-1]  # bright to dark: the edge filter stays at 0
    examples = layers.channel_examples(model, images, k=3)
    assert examples.scanned == 6
    assert examples.indices["conv"][0].tolist()[:2] == [4, 1]
    np.testing.assert_allclose(examples.peaks["conv"][0][:2], [1000.0, 400.0], atol=1e-2)
    assert examples.indices["pool"].shape == (2, 3) and examples.indices["scores"].shape == (10, 3)


@pytest.mark.parametrize("kind", ["logreg", "mlp", "deep_mlp", "simple_cnn", "fast_cnn", "standard_cnn", "strong_cnn"])
def test_every_keras_zoo_model_shows_its_stages_and_first_layer(kind, real_data):
    from fmnist_core.zoo import ZOO
    from ui.layers import build_view

    model = ZOO[kind].build()
    image = real_data.x_test[0]
    outputs = layers.stage_outputs(model, image)
    found = layers.stages(model)
    assert [outputs[s.name].shape for s in found] == [s.shape for s in found]
    np.testing.assert_allclose(outputs[found[-1].name], model(image[None].astype(np.float32))[0], atol=1e-5)
    filters = layers.first_layer_filters(model)
    cnn = "cnn" in kind
    assert filters.shape[1:] == ((3, 3) if cnn else (28, 28))
    view = build_view(model, image, 16)
    assert len(view.stages) == len(found) and view.filters is not None
    assert [p.picture is None for p in view.stages] == [s.role == layers.DENSE for s in found]
    assert view.rows["parameters"].sum() == model.count_params()


def test_a_scikit_learn_model_has_no_layers():
    from fmnist_core.classifier import SklearnClassifier

    assert layers.keras_model(SklearnClassifier(object(), "sk_forest")) is None


@pytest.mark.slow  # two epochs of a CNN, with TensorFlow's start-up: tens of seconds here
def test_each_epoch_event_carries_a_small_snapshot_of_the_network(small_data):
    from fmnist_core.training import EpochEnd, TrainConfig, train

    events = []
    result = train(
        TrainConfig(model="fast_cnn", epochs=2, batch_size=64, validation_split=0.1), small_data, on_event=events.append
    )
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert len(epochs) == 2 and all(e.layers is not None for e in epochs)
    last = pickle.loads(pickle.dumps(epochs[-1])).layers  # as it crosses the job's pipe
    assert len(pickle.dumps(last)) < 30_000
    assert last.filters.dtype == np.uint8 and last.filters.shape == (8, 3, 3)
    # The last epoch's filters are the trained model's first convolution.
    trained = layers.weight_tiles(layers.first_layer_filters(result.model))
    np.testing.assert_array_equal(last.filters, trained)
    assert [s.name for s in last.stages] == [s.name for s in layers.stages(result.model)]
    conv, dense = last.outputs[last.stages[0].name], last.outputs[last.stages[-1].name]
    assert conv.dtype == np.uint8 and conv.shape == (8, 28, 28)
    assert last.outputs["conv64"].shape == (layers.SNAPSHOT_CHANNELS, 7, 7)
    # The fixed image is the first test image: its class scores are the model's.
    expected = result.model(small_data.x_test[:1].astype(np.float32)).numpy()[0]
    np.testing.assert_allclose(dense.astype(np.float32), expected, atol=2e-3)
    assert not np.array_equal(epochs[0].layers.filters, last.filters)  # they moved


# ---------------------------------------------------------------- the pages


def open_classify_test_image(app, index: int = 0):
    app.session_state["classify_tab"] = classify.TEST_IMAGE_TAB
    app.run()
    app.number_input(key="classify_test_index").set_value(index).run()
    assert not app.exception
    return app


def captions(app) -> list[str]:
    return [c for image in app.image for c in image.captions]


@pytest.mark.slow  # the bundled CNN through every layer
def test_the_layers_view_of_a_cnn_on_classify(models_dir):
    app = open_classify_test_image(open_page(path_of("classify"), active_model="bundled"))
    assert "classify_test_layers_channels" not in {s.key for s in app.select_slider}
    app.session_state["classify_test_panel"] = classify.LAYERS_PANEL
    app.run()
    assert not app.exception
    table = app.dataframe[-1].value
    assert {"conv1a", "conv1a_bn", "pool3", "probabilities"} <= set(table["layer"])
    assert any("first convolution's 32 filters" in c for c in captions(app))
    assert any(c.startswith("The 16 most active of 32 channels") for c in captions(app))
    bars = {c.key for c in app.get("plotly_chart")}
    assert {"classify_test_layers_dense_bars", "classify_test_layers_probabilities_bars"} <= bars
    app.select_slider(key="classify_test_layers_channels").set_value(128).run()
    assert not app.exception
    assert any(c.startswith("All 128 channels") for c in captions(app))


@pytest.mark.slow  # reads thousands of real training images through the model
def test_the_layers_view_of_an_mlp_and_a_channels_favourite_images(models_dir, real_data):
    save_tiny_model("tiny")
    app = open_classify_test_image(open_page(path_of("classify"), active_model="registry:tiny"))
    app.session_state["classify_test_panel"] = classify.LAYERS_PANEL
    app.run()
    assert not app.exception
    assert any("first dense layer's weights" in c for c in captions(app))
    assert any("128 units" in m for m in texts(app.markdown))
    app.toggle(key="classify_test_layers_examples").set_value(True).run()
    assert not app.exception
    example_captions = [c for c in captions(app) if " · " in c]
    assert len(example_captions) == layers.EXAMPLES_PER_CHANNEL
    assert all(c.split(" · ")[0] in CLASS_NAMES for c in example_captions)
    assert any("training images (a random sample) on which channel" in c for c in texts(app.caption))


@pytest.mark.slow  # trains a logistic regression
def test_a_scikit_learn_model_says_plainly_it_has_no_layers(models_dir, small_data):
    from fmnist_core import registry
    from fmnist_core.training import TrainConfig, train

    registry.save(train(TrainConfig(model="sk_logreg"), small_data), "flat")
    app = open_classify_test_image(open_page(path_of("classify"), active_model="registry:flat"))
    app.session_state["classify_test_panel"] = classify.LAYERS_PANEL
    app.run()
    assert not app.exception
    assert any("scikit-learn model has no layers to show" in t for t in texts(app.info))


@pytest.mark.slow  # a training run in a child process
def test_the_train_page_shows_the_network_after_each_epoch(models_dir):
    from test_pages_train import start_tiny_run

    app = open_page(path_of("train"))
    run = start_tiny_run(app, model="mlp", epochs=2)
    assert run.job.wait(timeout=180), "the tiny run did not finish"
    assert run.job.error is None
    app.run()
    assert not app.exception
    assert any("Inside the network after epoch 2" in m for m in texts(app.markdown))
    assert any("First-layer filters after epoch 1" in c for c in captions(app))
    app.selectbox(key="train_layers_stage").set_value("probabilities").run()
    assert not app.exception
    assert "train_layers_bars" in {c.key for c in app.get("plotly_chart")}
