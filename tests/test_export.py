"""`export`: TensorFlow Serving's layout, loaded back with TensorFlow, answers as the app does."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core.cli import main


def _classifier(flip_tta: bool, rule: str):
    import keras

    from fmnist_core.classifier import KerasClassifier

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    meta = {"unsure": {"rule": rule, "threshold": 0.5, "calibrated_on": "test"}}
    return KerasClassifier(model, "mlp", meta, flip_tta=flip_tta)


def _served_probabilities(folder, images: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return signature(images=tf.constant(images))["probabilities"].numpy()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (8, 28, 28)).astype(np.float32)


@pytest.mark.parametrize(
    "flip_tta, rule", [(False, "max_probability"), (True, "max_probability"), (True, "energy"), (True, "logit_lead")]
)
def test_savedmodel_gives_the_app_probabilities(tmp_path, images, flip_tta, rule):
    from fmnist_core.export import export
    from fmnist_core.prediction import predict

    classifier = _classifier(flip_tta, rule)
    target = export(classifier, "shirts", "savedmodel", tmp_path)
    assert target == tmp_path / "shirts" / "1" and (target / "saved_model.pb").is_file()
    assert [p.name for p in (tmp_path / "shirts").iterdir()] == ["1"]  # nothing half-written left
    expected = np.stack([p.probabilities for p in predict(classifier, images)])
    np.testing.assert_allclose(_served_probabilities(target, images), expected, atol=1e-5)


def test_refusals(tmp_path, images):
    from sklearn.dummy import DummyClassifier

    from fmnist_core.classifier import SklearnClassifier
    from fmnist_core.export import ExportError, export

    classifier = _classifier(False, "max_probability")
    export(classifier, "m", "savedmodel", tmp_path)
    with pytest.raises(ExportError, match="already exists"):
        export(classifier, "m", "savedmodel", tmp_path)
    with pytest.raises(ExportError, match="savedmodel or tflite"):
        export(classifier, "n", "onnx", tmp_path)
    estimator = DummyClassifier().fit(images.reshape(8, -1), np.arange(8) % 2)
    with pytest.raises(ExportError, match="scikit-learn"):
        export(SklearnClassifier(estimator, "sk_logreg"), "s", "savedmodel", tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="cannot create"):
        export(classifier, "n", "savedmodel", tmp_path / "file")


def test_command_names_the_folder_and_refuses_without_a_traceback(tiny_model, tmp_path, capsys):
    assert main(["export", "--model", tiny_model, "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'tiny' / '1'}"
    assert main(["export", "--model", tiny_model, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "already exists" in err and "Traceback" not in err


@pytest.mark.slow
def test_bundled_model_savedmodel_matches_the_app(tmp_path, small_data):
    """The bundled model (mirror averaging) to 1e-5 on real test images."""
    from fmnist_core import registry
    from fmnist_core.export import export

    classifier = registry.load_default()
    target = export(classifier, "fashion-mnist", "savedmodel", tmp_path)
    images = small_data.x_test[:64].astype(np.float32)
    np.testing.assert_allclose(_served_probabilities(target, images), classifier.predict_proba(images), atol=1e-5)


@pytest.mark.slow
def test_tflite_is_the_app_conversion(tiny_model, tmp_path, images):
    """The flatbuffer the app caches for single images (converted in a child process)."""
    from ai_edge_litert.interpreter import Interpreter

    from fmnist_core import registry
    from fmnist_core.export import export
    from fmnist_core.lite import cache_path

    classifier = registry.load(tiny_model)
    target = export(classifier, "tiny", "tflite", tmp_path)
    data = (target / "model.tflite").read_bytes()
    assert data == cache_path(classifier.model).read_bytes()
    interpreter = Interpreter(model_content=data)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [8, 28, 28])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, classifier.predict_proba(images), atol=1e-5)
