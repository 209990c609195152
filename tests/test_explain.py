"""Saliency maps on a hand-wired model whose evidence for each class sits in a known place."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core import explain

VERTICAL, HORIZONTAL = 0, 1  # class 0 is evidenced by vertical strokes, class 1 by horizontal


@pytest.fixture(scope="module")
def bars_classifier():
    """A CNN with one vertical-stroke and one horizontal-stroke detector; class 0's logit
    reads only the first, class 1's only the second, the other classes nothing."""
    import keras

    from fmnist_core.classifier import KerasClassifier

    inputs = keras.Input((28, 28))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Reshape((28, 28, 1))(x)
    conv = keras.layers.Conv2D(2, 3, padding="same", activation="relu", use_bias=False)
    x = keras.layers.Flatten()(conv(x))
    dense = keras.layers.Dense(10, activation="softmax")
    model = keras.Model(inputs, dense(x))
    line = np.array([-1.0, 2.0, -1.0])
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[:, :, 0, VERTICAL] = np.tile(line, (3, 1))  # responds to a one-pixel vertical line
    kernel[:, :, 0, HORIZONTAL] = np.tile(line, (3, 1)).T
    conv.set_weights([kernel])
    weights = np.zeros((28 * 28 * 2, 10), np.float32)
    weights[VERTICAL::2, VERTICAL] = 0.05  # Flatten order: (row, column, channel)
    weights[HORIZONTAL::2, HORIZONTAL] = 0.05
    dense.set_weights([weights, np.zeros(10, np.float32)])
    return KerasClassifier(model, "simple_cnn")


@pytest.fixture(scope="module")
def two_strokes() -> np.ndarray:
    """A vertical stroke at the top right and a horizontal stroke at the bottom left."""
    image = np.zeros((28, 28), np.float32)
    image[2:10, 20] = 255  # vertical
    image[22, 3:11] = 255  # horizontal
    return image


TOP_RIGHT = (slice(0, 13), slice(15, 26))
BOTTOM_LEFT = (slice(17, 28), slice(0, 15))


def _peak(heat: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(heat), heat.shape))


def _inside(point: tuple[int, int], region: tuple[slice, slice]) -> bool:
    return all(s.start <= v < s.stop for v, s in zip(point, region))


@pytest.mark.parametrize("method", [explain.occlusion_map, explain.grad_cam])
def test_each_class_map_peaks_on_its_own_evidence(method, bars_classifier, two_strokes):
    vertical = method(bars_classifier, two_strokes, label=VERTICAL)
    horizontal = method(bars_classifier, two_strokes, label=HORIZONTAL)
    for heat in (vertical, horizontal):
        assert heat.shape == (28, 28) and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert _inside(_peak(vertical), TOP_RIGHT)
    assert _inside(_peak(horizontal), BOTTOM_LEFT)
    # the other stroke is little evidence for this class (only its ends look like the
    # wrong stroke to a 3x3 detector): at most a quarter of the peak there
    assert vertical[BOTTOM_LEFT].max() < 0.25
    assert horizontal[TOP_RIGHT].max() < 0.25


def test_default_label_is_the_predicted_class(bars_classifier):
    image = np.zeros((28, 28), np.float32)
    image[5:20, 14] = 255  # only a vertical stroke: class 0 wins
    assert int(np.argmax(bars_classifier.predict_proba(image)[0])) == VERTICAL
    np.testing.assert_allclose(
        explain.occlusion_map(bars_classifier, image), explain.occlusion_map(bars_classifier, image, label=VERTICAL)
    )


def test_many_images_get_each_its_own_grad_cam_in_one_pass(bars_classifier, two_strokes):
    """A batch's maps are each image's own map for its own class (the summed gradient must
    not mix images), across batch boundaries, with the predicted class as the default."""
    only_vertical = np.zeros((28, 28), np.float32)
    only_vertical[5:20, 14] = 255
    images = np.stack([two_strokes, two_strokes, only_vertical])
    maps = explain.grad_cams(bars_classifier, images, [VERTICAL, HORIZONTAL, VERTICAL], batch_size=2)
    assert maps.shape == (3, 28, 28)
    np.testing.assert_allclose(maps[0], explain.grad_cam(bars_classifier, two_strokes, label=VERTICAL), atol=1e-6)
    np.testing.assert_allclose(maps[1], explain.grad_cam(bars_classifier, two_strokes, label=HORIZONTAL), atol=1e-6)
    assert _inside(_peak(maps[0]), TOP_RIGHT) and _inside(_peak(maps[1]), BOTTOM_LEFT)
    np.testing.assert_allclose(explain.grad_cams(bars_classifier, images[2:]), maps[2:], atol=1e-6)


def test_occlusion_runs_every_variant_in_one_call(bars_classifier, two_strokes):
    calls: list[int] = []

    class Counting:
        kind = "counting"
        meta: dict = {}

        def predict_proba(self, images):
            calls.append(len(images))
            return bars_classifier.predict_proba(images)

    explain.occlusion_map(Counting(), two_strokes, patch=6, stride=2)
    assert calls == [1 + 12 * 12]  # the original and every patch position, together


def test_occlusion_works_for_scikit_learn_models(small_data):
    from sklearn.linear_model import LogisticRegression

    from fmnist_core.classifier import SklearnClassifier

    flat = small_data.x_train.reshape(len(small_data.x_train), -1) / 255.0
    classifier = SklearnClassifier(LogisticRegression(max_iter=40, tol=1e-2).fit(flat, small_data.y_train), "sk_logreg")
    heat = explain.occlusion_map(classifier, small_data.x_test[0])
    assert heat.shape == (28, 28) and 0 <= heat.min() and heat.max() == pytest.approx(1.0)
    assert not explain.has_conv_layer(classifier)
    with pytest.raises(ValueError, match="Conv2D"):
        explain.grad_cam(classifier, small_data.x_test[0])


def test_overlay_is_an_upscaled_rgb_image_coloured_only_where_hot(two_strokes):
    heat = np.zeros((28, 28), np.float32)
    heat[0:4, 0:4] = 1.0
    picture = explain.overlay(two_strokes, heat, scale=8)
    assert picture.shape == (224, 224, 3) and picture.dtype == np.uint8
    cold = picture[200:, 200:]  # far from the hot corner: the plain (black) image, grey
    assert (cold == 0).all()
    hottest = explain.heat_colours(np.array([1.0]))[0]
    np.testing.assert_allclose(picture[4, 4], 0.7 * hottest, atol=1)  # black pixel + colour
    stroke = picture[22 * 8 + 4, 5 * 8 + 4]  # the horizontal stroke, far from the heat
    assert (stroke == 255).all()
