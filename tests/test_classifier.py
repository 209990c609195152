"""KerasClassifier's two forward passes: TensorFlow for batches, LiteRT for single images once
sped up. They must give the same numbers; which one answers is only a matter of speed.
Conversions run in a child process and are cached in a folder private to this module."""

from __future__ import annotations

import logging
import os
import threading

import keras
import numpy as np
import pytest

from fmnist_core import lite
from fmnist_core.classifier import KerasClassifier
from fmnist_core.zoo import build_fast_cnn, build_strong_cnn


def _with_learnt_statistics(model):
    """BatchNorm layers with moving statistics away from 0 and 1, as after training, so that
    a conversion that mishandled them would show."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.normal(0, 0.1, beta.shape),
                    rng.normal(0, 0.5, mean.shape),
                    rng.uniform(0.2, 2.0, variance.shape),
                ]
            )
    return model


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FMNIST_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def images(real_data):
    return real_data.x_test[:6].astype(np.float32)


@pytest.fixture(scope="module")
def strong_model():
    return _with_learnt_statistics(build_strong_cnn())


@pytest.mark.slow  # LiteRT conversions of a CNN
@pytest.mark.parametrize("flip_tta", [False, True])
def test_single_images_through_litert_match_tensorflow(strong_model, images, flip_tta):
    expected = KerasClassifier(strong_model, "strong_cnn", flip_tta=flip_tta).predict_proba(images)
    sped_up = KerasClassifier(strong_model, "strong_cnn", flip_tta=flip_tta)
    assert sped_up.speed_up_single_images()
    singles = np.concatenate([sped_up.predict_proba(image) for image in images])
    np.testing.assert_allclose(singles, expected, atol=1e-5)
    assert np.abs(expected - expected.mean(axis=0)).max() > 1e-3  # the images do differ


@pytest.mark.slow  # a LiteRT conversion of a CNN
def test_the_logits_path_can_be_sped_up_too(strong_model, images):
    expected = KerasClassifier(strong_model, "strong_cnn", flip_tta=True).predict_logits(images)
    sped_up = KerasClassifier(strong_model, "strong_cnn", flip_tta=True)
    assert sped_up.speed_up_single_images(logits=True)
    singles = np.concatenate([sped_up.predict_logits(image) for image in images])
    np.testing.assert_allclose(singles, expected, atol=1e-4)


def test_batches_stay_on_tensorflow(images):
    classifier = KerasClassifier(build_fast_cnn(), "fast_cnn")
    expected = classifier.predict_proba(images)

    def refuse(_images):
        raise AssertionError("a batch of 6 went through LiteRT")

    classifier._proba._lite = refuse
    np.testing.assert_allclose(classifier.predict_proba(images), expected, atol=1e-6)


@pytest.mark.slow  # a LiteRT conversion attempt
def test_a_model_litert_cannot_convert_is_answered_by_tensorflow(monkeypatch, images, caplog):
    monkeypatch.setattr(lite, "CHILD_COMMAND", "import sys; sys.exit('converter says no')")
    classifier = KerasClassifier(build_fast_cnn(), "fast_cnn")
    expected = classifier.predict_proba(images[:1])
    with caplog.at_level(logging.WARNING, logger="fmnist_core.lite"):
        assert classifier.speed_up_single_images() is False
    assert "converter says no" in caplog.text  # the child's own words reach the log
    np.testing.assert_allclose(classifier.predict_proba(images[:1]), expected, atol=1e-6)


@pytest.mark.slow  # a LiteRT conversion
def test_a_model_is_converted_once_then_read_from_the_cache(monkeypatch, images):
    model = _with_learnt_statistics(build_fast_cnn())
    conversions = []
    real_convert = lite.convert_in_child
    monkeypatch.setattr(lite, "convert_in_child", lambda *args: (conversions.append(args), real_convert(*args)))
    threads = [threading.Thread(target=KerasClassifier(model, "fast_cnn").speed_up_single_images) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(conversions) == 1 and lite.cache_path(model).exists()
    os.utime(lite.cache_path(model), (0, 0))  # as if converted long ago
    later = KerasClassifier(model, "fast_cnn")  # e.g. the app loading it again after a restart
    assert later.speed_up_single_images() and len(conversions) == 1
    assert lite.cache_path(model).stat().st_mtime > 0  # used now: pruned last
    np.testing.assert_allclose(
        later.predict_proba(images[0]), KerasClassifier(model, "fast_cnn").predict_proba(images[:1]), atol=1e-5
    )


def test_a_retrained_model_never_meets_the_old_conversion():
    model = build_fast_cnn()
    before = lite.cache_path(model)
    model.layers[-1].kernel.assign(model.layers[-1].kernel + 0.01)
    assert lite.cache_path(model) != before


@pytest.mark.slow  # a LiteRT conversion of a CNN
def test_a_damaged_cached_conversion_is_refused_and_removed(strong_model, caplog):
    model = build_fast_cnn()
    assert lite.lite_forward_or_none(model) is not None
    cached, another = lite.cache_path(model), strong_model
    assert lite.lite_forward_or_none(another) is not None  # converted once in this module
    cached.write_bytes(lite.cache_path(another).read_bytes())  # a valid flatbuffer, wrong weights
    with caplog.at_level(logging.WARNING, logger="fmnist_core.lite"):
        assert lite.lite_forward_or_none(model) is None
    assert "differ from TensorFlow" in caplog.text and not cached.exists()
    cached.write_bytes(b"not a flatbuffer")
    assert lite.lite_forward_or_none(model) is None and not cached.exists()


@pytest.mark.slow  # a LiteRT conversion
def test_sessions_can_share_one_prepared_model(images):
    classifier = KerasClassifier(_with_learnt_statistics(build_fast_cnn()), "fast_cnn", flip_tta=True)
    expected = classifier.predict_proba(images)
    classifier.speed_up_single_images()
    answers: dict[tuple[int, int], np.ndarray] = {}

    def classify(worker: int) -> None:
        for round_ in range(15):
            index = (worker + round_) % len(images)
            answers[worker, round_] = classifier.predict_proba(images[index])[0]

    threads = [threading.Thread(target=classify, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 60
    for (worker, round_), answer in answers.items():
        np.testing.assert_allclose(answer, expected[(worker + round_) % len(images)], atol=1e-5)


@pytest.mark.slow  # a LiteRT conversion of a CNN
def test_a_cache_that_cannot_be_written_leaves_tensorflow_answering(tmp_path, monkeypatch, images, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("FMNIST_CACHE_DIR", str(blocker))
    classifier = KerasClassifier(build_fast_cnn(), "fast_cnn")
    with caplog.at_level(logging.WARNING, logger="fmnist_core.lite"):
        assert classifier.speed_up_single_images() is False
    assert "using TensorFlow" in caplog.text and classifier.single_image_engine() == "TensorFlow"
    assert classifier.predict_proba(images[0]).shape == (1, 10)


def test_every_classifier_answers_the_interface_questions(images):
    """What `predict` asks a model directly: logits or not, a faster single-image engine or
    not, and which engine answers. Keras models go through LiteRT once sped up;
    scikit-learn models have no logits and no faster path."""
    from sklearn.dummy import DummyClassifier

    from fmnist_core.classifier import SklearnClassifier
    from fmnist_core.prediction import predict_engine, speed_up_predict

    keras_model = KerasClassifier(build_fast_cnn(), "fast_cnn")
    assert keras_model.has_logits and keras_model.predict_logits(images[:2]).shape == (2, 10)
    assert keras_model.batch_engine == "TensorFlow"
    assert keras_model.single_image_engine() == "TensorFlow"  # until sped up
    assert speed_up_predict(keras_model)
    assert keras_model.single_image_engine() == predict_engine(keras_model) == "LiteRT"
    assert predict_engine(keras_model, images=3) == "TensorFlow"

    estimator = DummyClassifier(strategy="prior").fit(np.zeros((10, 784)), np.arange(10))
    sklearn_model = SklearnClassifier(estimator, "logistic")
    assert not sklearn_model.has_logits
    with pytest.raises(NotImplementedError):
        sklearn_model.predict_logits(images[:1])
    assert sklearn_model.speed_up_single_images() is False and not speed_up_predict(sklearn_model)
    assert sklearn_model.single_image_engine() == sklearn_model.batch_engine == "scikit-learn"
    assert predict_engine(sklearn_model) == predict_engine(sklearn_model, images=5) == "scikit-learn"
