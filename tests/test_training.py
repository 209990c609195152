"""The training engine on a few hundred real images: events, stop, splits, devices, CLI, bundle."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest

from fmnist_core.augment import AUGMENTATIONS, Augmentation
from fmnist_core.training import (
    PRESETS,
    BatchProgress,
    EpochEnd,
    FitProgress,
    PhaseChange,
    TrainConfig,
    TrainingDone,
    TrainingError,
    endless_batches,
    epoch_steps,
    split_train,
    train,
)
from fmnist_core.zoo import ZOO

from locations import REPO_ROOT

TINY = TrainConfig(model="mlp", epochs=3, batch_size=32, steps_per_execution=4, preview_count=5)


def test_events_arrive_in_order_with_sane_fields(small_data):
    events = []
    classifier = train(TINY, small_data, on_event=events.append)
    assert isinstance(events[0], PhaseChange) and events[0].phase == "setting up"
    assert isinstance(events[-1], TrainingDone) and events[-1].reason == "completed"
    fitting = next(e.detail for e in events if isinstance(e, PhaseChange) and e.phase == "fitting")
    assert fitting == "540 training images, 60 for validation"  # one device: not worth a word
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [0, 1, 2]
    assert all(e.val_accuracy is not None and 0 <= e.val_accuracy <= 1 for e in epochs)
    assert all(len(e.preview_predictions) == 5 and set(e.preview_predictions) <= set(range(10)) for e in epochs)
    assert epochs[-1].eta_seconds == 0 and epochs[0].elapsed <= epochs[-1].elapsed
    batches = [e for e in events if isinstance(e, BatchProgress)]
    assert batches and all(0 < b.step <= b.steps_per_epoch and b.learning_rate > 0 for b in batches)
    assert all(b.images_per_second > 0 and np.isfinite(b.loss) for b in batches)
    # Every batch event of an epoch comes before that epoch's end.
    positions = {e.epoch: events.index(e) for e in epochs}
    assert all(events.index(b) < positions[b.epoch] for b in batches)
    meta = classifier.meta
    assert meta["kind"] == "mlp" and meta["config"]["epochs"] == 3 and not meta["stopped_early"]
    assert len(meta["history"]["val_loss"]) == 3 and meta["dataset_checksum"] == small_data.checksum
    assert meta["params"] == classifier.params and meta["train_seconds"] > 0
    # The unsure rule is calibrated on the held-out validation images.
    assert meta["unsure"]["rule"] == "max_probability" and 0 < meta["unsure"]["threshold"] <= 1
    assert meta["unsure"]["calibrated_on"].startswith(f"{meta['validation_images']} held-out")


@pytest.mark.parametrize(
    "images, batch, per_call, expected",
    [
        (57_000, 256, 16, (224, 16)),  # the presets: one batch more per epoch, whole calls
        (540, 32, 4, (17, 1)),  # 20 steps would be 18% more: one step a call instead
        (2_850, 256, 16, (12, 12)),  # a divisor that fits exactly
        (100, 128, 16, (1, 1)),
    ],
)
def test_an_epoch_is_a_whole_number_of_compiled_calls(images, batch, per_call, expected):
    assert epoch_steps(images, batch, per_call) == expected


def test_no_images_make_no_epoch():
    with pytest.raises(TrainingError, match="no training steps: 0 images in batches of 32"):
        epoch_steps(0, 32, 16)


def test_the_optimizer_runs_the_steps_that_the_schedule_and_the_progress_count(small_data):
    """540 images in batches of 11 are 50 steps; 3 to a compiled call, Keras runs 51."""
    events = []
    config = replace(TINY, batch_size=11, steps_per_execution=3)
    meta = train(config, small_data, on_event=events.append).meta
    assert meta["steps_per_epoch"] == 51 and meta["optimizer_steps"] == 3 * 51
    assert [max(b.step for b in events if isinstance(b, BatchProgress) and b.epoch == epoch) for epoch in range(3)] == [
        51
    ] * 3


def test_stop_from_another_thread_keeps_a_working_model(small_data):
    started, stop = threading.Event(), threading.Event()
    result = {}

    def on_event(event):
        if isinstance(event, EpochEnd):
            started.set()

    config = replace(TINY, epochs=200)
    worker = threading.Thread(target=lambda: result.update(c=train(config, small_data, on_event, stop)))
    worker.start()
    assert started.wait(120)
    stop.set()
    worker.join(120)
    classifier = result["c"]
    assert classifier.meta["stopped_early"] and classifier.meta["stop_reason"] == "stopped"
    assert len(classifier.meta["history"]["loss"]) < 200
    # What was learnt is kept: well above the 10% of chance on the test images.
    assert classifier.meta["metrics"]["accuracy"] > 0.4


def test_a_forest_grows_in_stages_into_the_forest_of_one_fit(small_data):
    events = []
    classifier = train(TrainConfig(model="sk_forest", seed=3), small_data, on_event=events.append)
    stages = [e for e in events if isinstance(e, FitProgress)]
    assert [e.done for e in stages] == list(range(10, 101, 10))
    assert all(e.total == 100 and e.unit == "trees" and e.elapsed > 0 for e in stages)
    assert classifier.meta["trees"] == 100
    one_fit = (
        ZOO["sk_forest"]
        .build(seed=3)
        .fit(small_data.x_train.reshape(len(small_data.x_train), -1) / 255.0, small_data.y_train)
    )
    flat_test = small_data.x_test.reshape(len(small_data.x_test), -1) / 255.0
    np.testing.assert_allclose(classifier.estimator.predict_proba(flat_test), one_fit.predict_proba(flat_test))


def test_a_stopped_forest_keeps_the_trees_it_grew(small_data):
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, FitProgress) and event.done == 20:
            stop.set()

    classifier = train(TrainConfig(model="sk_forest"), small_data, on_event, stop)
    assert classifier.meta["stop_reason"] == "stopped" and classifier.meta["trees"] == 20
    assert len(classifier.estimator.estimators_) == 20
    assert classifier.meta["metrics"]["accuracy"] > 0.4


def test_early_stopping_ends_the_run_and_keeps_the_best_epoch(small_data):
    config = TrainConfig(model="mlp", epochs=60, batch_size=32, validation_split=0.2, early_stopping_patience=2)
    classifier = train(config, small_data)
    val_loss = classifier.meta["history"]["val_loss"]
    assert classifier.meta["stop_reason"] == "early stopping" and len(val_loss) < 60
    # The weights are those of the best epoch, not the last.
    _, val_idx = split_train(config, small_data)
    proba = classifier.predict_proba(small_data.x_train[val_idx])
    loss = -np.log(proba[np.arange(len(val_idx)), small_data.y_train[val_idx]]).mean()
    assert loss == pytest.approx(min(val_loss), rel=1e-3)
    assert min(val_loss) < val_loss[-1]


@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
def test_the_schedule_shapes_the_learning_rate(small_data, schedule):
    events = []
    train(replace(TINY, schedule=schedule, learning_rate=0.01), small_data, on_event=events.append)
    rates = np.array([e.learning_rate for e in events if isinstance(e, BatchProgress)])
    peak = int(rates.argmax())
    if schedule == "constant":
        np.testing.assert_allclose(rates, 0.01, rtol=1e-6)
    elif schedule == "cosine":  # from the full rate down to 1% of it
        assert np.all(np.diff(rates) < 0) and rates[0] < 0.01 and rates[-1] < 0.0005
    else:  # warm up from 1/25 of the rate for 30% of the steps, then down
        assert rates[0] < 0.002 and rates[peak] == pytest.approx(0.01, rel=0.05)
        assert 0.2 < peak / len(rates) < 0.4 and rates[-1] < 0.0005
        assert np.all(np.diff(rates[: peak + 1]) > 0) and np.all(np.diff(rates[peak:]) < 0)


@pytest.mark.parametrize("optimizer, keras_class", [("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD")])
@pytest.mark.slow  # trains once per optimizer
def test_each_optimizer_trains_and_dropout_and_l2_reach_the_layers(small_data, optimizer, keras_class, monkeypatch):
    import keras

    from fmnist_core import training

    made = []
    build_optimizer = training._optimizer

    def recording_optimizer(*args):
        made.append(build_optimizer(*args))
        return made[-1]

    monkeypatch.setattr(training, "_optimizer", recording_optimizer)
    config = replace(TINY, model="deep_mlp", epochs=1, optimizer=optimizer, dropout=0.35, l2=0.002)
    classifier = train(config, small_data)
    assert [type(o).__name__ for o in made] == [keras_class] and int(made[0].iterations) > 0
    assert np.isfinite(classifier.meta["history"]["loss"]).all()
    layers = classifier.model.layers
    assert {layer.rate for layer in layers if isinstance(layer, keras.layers.Dropout)} == {0.35}
    l2 = [
        float(layer.kernel_regularizer.l2)
        for layer in layers
        if isinstance(layer, keras.layers.Dense) and layer.kernel_regularizer is not None
    ]
    assert l2 and l2 == pytest.approx([0.002] * len(l2))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_terminal_progress_bar_redraws_its_line_and_keeps_where_a_stop_left_it():
    from fmnist_core.cli.train import Progress

    terminal, log = FakeTerminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(stream)
        progress(BatchProgress(0, 5, 10, 0.5, 0.8, 1e-3, 1000.0))
        progress(FitProgress(50, 100, "trees", 3.0))
        progress(FitProgress(100, 100, "trees", 6.0))
    assert terminal.getvalue() == (
        "\r\033[Kepoch 1 [##########          ] 5/10 loss 0.5000 acc 0.8000 1,000 img/s"
        "\r\033[Kfitting [##########          ] 50/100 trees 3s"
        "\r\033[Kfitting [####################] 100/100 trees 6s\n"
    )
    # Not a terminal (a log file, a pipe): no batch bars, one plain line per stage.
    assert log.getvalue() == (
        "fitting [##########          ] 50/100 trees 3s\nfitting [####################] 100/100 trees 6s\n"
    )

    stopped = FakeTerminal()
    progress = Progress(stopped)
    progress(FitProgress(20, 100, "trees", 1.0))
    progress(PhaseChange("evaluating", "10000 test images"))
    assert stopped.getvalue() == (
        "\r\033[Kfitting [####                ] 20/100 trees 1s\n\r\033[Kevaluating: 10000 test images\n"
    )


def test_endless_batches_pass_over_every_image_once_per_epoch_in_a_new_order():
    images = np.arange(50, dtype=np.uint8).repeat(784).reshape(50, 28, 28)
    labels = np.arange(50) % 10
    dataset = endless_batches(images, labels, batch_size=16)
    # No autotuner: its sleeping thread stalled every epoch boundary by seconds.
    assert dataset.options().autotune.enabled is False
    batches = list(dataset.take(8))  # two passes of ceil(50 / 16) = 4 batches
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2] * 2
    assert all(x.dtype.name == "float32" and x.shape[1:] == (28, 28) for x, _ in batches)
    passes = [np.concatenate([x.numpy()[:, 0, 0] for x, _ in batches[i : i + 4]]) for i in (0, 4)]
    assert all(sorted(p.astype(int)) == list(range(50)) for p in passes)
    assert not np.array_equal(passes[0], passes[1])
    for x, y in batches:  # each label still travels with its image
        assert np.array_equal(labels[x.numpy()[:, 0, 0].astype(int)], y.numpy())


def test_validation_is_stratified_and_disjoint_from_training(small_data):
    config = TrainConfig(validation_split=0.1, seed=3)
    train_idx, val_idx = split_train(config, small_data)
    assert len(train_idx) + len(val_idx) == len(small_data.y_train)
    assert not set(train_idx) & set(val_idx)
    assert np.bincount(small_data.y_train[val_idx], minlength=10).tolist() == [6] * 10
    limited, _ = split_train(replace(config, train_limit=200, validation_split=0.0), small_data)
    assert np.bincount(small_data.y_train[limited], minlength=10).tolist() == [20] * 10


def test_bad_config_is_explained():
    with pytest.raises(TrainingError, match="unknown model 'nope'"):
        train(TrainConfig(model="nope"), data=None)


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_augmentation_keeps_shape_range_and_labels(name, small_data):
    images = small_data.x_train[:64]
    out = AUGMENTATIONS[name](images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    if name == "none":
        np.testing.assert_array_equal(out, images)
    else:
        assert not np.array_equal(out, images)
    batches = endless_batches(images, small_data.y_train[:64], 16, AUGMENTATIONS[name], seed=1)
    for x, y in batches.take(5):  # a new pass begins after 4 batches
        assert x.shape == (16, 28, 28) and x.dtype.name == "float32" and y.shape == (16,)
        assert 0 <= x.numpy().min() and x.numpy().max() <= 255


def test_augmented_training_runs_through_the_engine(small_data):
    events = []
    config = replace(TINY, epochs=2, augment=AUGMENTATIONS["photo"])
    classifier = train(config, small_data, on_event=events.append)
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [0, 1] and all(np.isfinite(e.loss) for e in epochs)
    assert classifier.meta["config"]["augment"]["photo"] == AUGMENTATIONS["photo"].photo
    assert classifier.predict_proba(small_data.x_test[:3]).shape == (3, 10)


def test_flip_only_mirrors():
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, :, :5] = 200
    flipped = Augmentation(flip=True)(np.repeat(image, 50, axis=0), np.random.default_rng(0))
    mirrored = [np.array_equal(f, image[0, :, ::-1]) for f in flipped]
    assert any(mirrored) and not all(mirrored)
    assert all(m or np.array_equal(f, image[0]) for f, m in zip(flipped, mirrored))


def test_presets_validate():
    for config in PRESETS.values():
        config.validate()
    assert PRESETS["best"].flip_tta and PRESETS["best"].model == "strong_cnn"


def test_presets_average_with_the_mirror_only_when_they_train_on_mirrors():
    """Flip averaging for a model that never saw a mirror image cost 3 points (88.8% against
    92.2%): a preset that averages must train with mirrored images."""
    for name, config in PRESETS.items():
        assert not config.flip_tta or config.augment.flip, name


MIRRORED = """
import json, sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from fmnist_core.data import load_dataset
from fmnist_core.training import TrainConfig, train
data = load_dataset()
config = TrainConfig(model="fast_cnn", epochs=1, batch_size=64, train_limit=640,
                     devices=("/cpu:0", "/cpu:1"), steps_per_execution=4)
c = train(config, data)
print(json.dumps({"replicas": c.meta["replicas"], "accuracy": c.meta["metrics"]["accuracy"]}))
"""


@pytest.mark.slow  # a training run in a child process
def test_mirrored_strategy_on_two_logical_cpus():
    """fast_cnn, so that its fused BatchNorm updates moving statistics inside each replica."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["accuracy"] > 0.3


def test_train_cli_json_saves_to_the_registry(models_dir, capsys):
    from fmnist_core.cli import main

    code = main(["train", "--model", "mlp", "--epochs", "1", "--train-limit", "600", "--name", "tiny", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["name"] == "tiny" and result["kind"] == "mlp" and result["params"] == 101_770
    assert 0.3 < result["accuracy"] <= 1 and 0 < result["macro_f1"] <= 1
    assert (models_dir / "tiny" / "meta.json").is_file()


def test_train_cli_rejects_bad_values_with_a_message(models_dir, capsys):
    from fmnist_core.cli import main

    assert main(["train", "--model", "nope", "--no-save"]) == 1
    assert "unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.slow  # k fits of a classical model
def test_classical_models_report_k_fold_cross_validation(small_data):
    events = []
    classifier = train(TrainConfig(model="sk_logreg", cv_folds=3), small_data, on_event=events.append)
    cv = classifier.meta["cross_validation"]
    assert cv["folds"] == 3 and len(cv["accuracy"]["per_fold"]) == 3
    assert 0.3 < cv["accuracy"]["mean"] <= 1 and cv["accuracy"]["std"] >= 0
    assert any(isinstance(e, PhaseChange) and e.phase == "cross-validating" for e in events)
    with pytest.raises(TrainingError, match="for the scikit-learn models"):
        train(TrainConfig(model="mlp", cv_folds=3), small_data)
    with pytest.raises(TrainingError, match="needs at least 3 training images of every class; one class has 2"):
        train(TrainConfig(model="sk_logreg", cv_folds=3, train_limit=20), small_data)


@pytest.mark.slow  # k fits of a classical model
def test_train_cli_prints_the_cross_validation(models_dir, capsys):
    from fmnist_core.cli import main

    assert main(["train", "--model", "sk_logreg", "--train-limit", "600", "--cv", "3", "--no-save"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("3-fold cross-validation on the training images: accuracy 0.")


def test_train_cli_checks_the_name_before_training(models_dir, capsys, monkeypatch):
    from fmnist_core import training
    from fmnist_core.cli import main

    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("trained before the name check"))
    (models_dir / "taken").mkdir(parents=True)
    assert main(["train", "--model", "mlp", "--name", "taken"]) == 1
    assert "'taken' already exists" in capsys.readouterr().err
    assert main(["train", "--model", "mlp", "--name", "a/b"]) == 1
    assert "cannot contain /" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--dropout", "1.5", "dropout must be at least 0 and below 1"),
        ("--l2", "-0.1", "L2 must be from 0 to 1"),
        ("--l2", "inf", "L2 must be from 0 to 1"),
        ("--learning-rate", "inf", "the learning rate must be above 0 and at most 10"),
        ("--learning-rate", "nan", "the learning rate must be above 0 and at most 10"),
        ("--patience", "-1", "the early-stopping patience must not be negative"),
        ("--seed", "-1", "the seed must be a whole number"),
    ],
)
def test_train_cli_explains_out_of_range_options(capsys, option, value, message):
    from fmnist_core.cli import main

    assert main(["train", "--model", "mlp", "--no-save", option, value]) == 1
    assert message in capsys.readouterr().err


def test_early_stopping_without_validation_images_is_refused(capsys):
    from fmnist_core.cli import main

    assert main(["train", "--model", "mlp", "--no-save", "--patience", "3", "--validation-split", "0"]) == 1
    assert "early stopping watches the validation loss" in capsys.readouterr().err
    # The Train page keeps the greyed-out Keras fields of a scikit-learn model: no objection.
    TrainConfig(model="sk_forest", early_stopping_patience=3, validation_split=0).validate()
    with pytest.raises(TrainingError, match="mirror image is for the Keras models"):
        TrainConfig(model="sk_forest", flip_tta=True).validate()


def test_train_cli_names_match_the_engine():
    """The CLI keeps light copies of these names so that `--help` needs no TensorFlow."""
    from fmnist_core.cli import train as cli_train
    from fmnist_core.training import OPTIMIZERS, SCHEDULES

    assert cli_train.PRESET_NAMES == tuple(PRESETS)
    assert set(cli_train.AUGMENT_NAMES) == set(AUGMENTATIONS)
    assert cli_train.MODEL_NAMES == tuple(ZOO)
    assert (cli_train.SCHEDULE_NAMES, cli_train.OPTIMIZER_NAMES) == (SCHEDULES, OPTIMIZERS)


def test_bundle_writes_a_loadable_model_and_its_card(small_data, tmp_path):
    from fmnist_core import registry
    from fmnist_core.cli.train import bundle

    classifier = train(replace(TINY, epochs=1, flip_tta=True), small_data)
    path = bundle(classifier, tmp_path, "python -m fmnist_core train --preset best --bundle")
    loaded = registry.load(path)
    assert loaded.flip_tta and loaded.meta["metrics"] == classifier.meta["metrics"]
    np.testing.assert_allclose(
        loaded.predict_proba(small_data.x_test), classifier.predict_proba(small_data.x_test), atol=1e-5
    )
    card = (path / registry.MODEL_CARD).read_text()
    assert "train --preset best --bundle" in card and "| Ankle boot |" in card


@pytest.mark.slow  # trains every model briefly
def test_bench_prints_one_json_row_per_model(capsys):
    from fmnist_core.cli import main

    assert main(["bench", "--only", "logreg", "--train-limit", "300", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    assert row["model"] == "logreg" and row["params"] == 7850 and row["tensorflow_ms"] > 0
    assert row["latency_ms"] > 0  # the app's path (LiteRT), and stdout stayed JSON
    before, after = row["reference_step_ms"]  # the machine's speed around the training
    assert before > 0 and after > 0


@pytest.fixture(scope="module")
def bundled_accuracy(real_data):
    """The bundled model and its accuracy on the 10,000 test images, measured once."""
    from fmnist_core import registry
    from fmnist_core.evaluation import evaluate

    classifier = registry.load_default()
    return classifier, evaluate(classifier.predict_proba(real_data.x_test), real_data.y_test).accuracy


@pytest.mark.slow
def test_bundled_model_meets_its_card(bundled_accuracy, real_data):
    classifier, accuracy = bundled_accuracy
    assert abs(accuracy - classifier.meta["metrics"]["accuracy"]) <= 0.001
    assert classifier.params <= 300_000
    assert classifier.meta["dataset_checksum"] == real_data.checksum
    assert classifier.meta["config"]["model"] == "strong_cnn"


@pytest.mark.slow
def test_bundled_model_reaches_the_target(bundled_accuracy):
    _, accuracy = bundled_accuracy
    assert accuracy >= 0.945


def test_the_step_cost_script_times_the_step_and_every_layer(capsys, monkeypatch):
    import runpy

    monkeypatch.setattr(sys, "argv", ["step_costs.py", "--model", "mlp", "--batch", "8"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(REPO_ROOT / "bench" / "step_costs.py"), run_name="__main__")
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mlp, batch 8: one training step ")
    rows = [line.split() for line in lines[2:]]  # layer, output, forward ms, with gradients ms
    assert [row[1] for row in rows] == ["28x28", "784", "128", "10"]  # rescale, flatten, 2 dense
    assert all(float(row[2]) > 0 for row in rows)
    # No weights up to the flatten: nothing to differentiate there; both dense layers have.
    assert [float(row[3]) > 0 for row in rows] == [False, False, True, True]


def test_a_smaller_set_gets_the_epochs_that_keep_the_full_sets_optimiser_steps():
    from fmnist_core.training import epochs_for_full_steps, planned_steps

    quick = PRESETS["quick"]
    assert planned_steps(quick, 60_000) == 3 * 224
    smaller = replace(quick, train_limit=10_000)
    assert planned_steps(smaller, 60_000) == 3 * 38  # 9,500 images after validation
    assert epochs_for_full_steps(smaller, 60_000) == 18
    assert epochs_for_full_steps(quick, 60_000) == 3
