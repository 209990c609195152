"""`bench`: the README's table, measured here: parameters, training time, test accuracy and
single-image latency for the presets and the bundled model (loaded, not retrained).
"1-image ms" is the app's path (LiteRT once the model is sped up), "TF ms" the same images
through TensorFlow before that. "ref step ms" is the machine's speed just before and after
a row trains: the median time of one fixed training step (fast_cnn, a batch of 128), the same
work every time, so that training times taken at different moments can be compared."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

DEFAULT_ROWS = ("quick", "standard", "bundled")
LATENCY_CALLS = 200
WARMUP_CALLS = 20
REFERENCE_ROUNDS, REFERENCE_CALLS = 7, 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure training time, accuracy and latency of the presets and the bundled model",
        description="Train the quick and standard presets, load the bundled model, and print a table. "
        "Rows may also name any zoo model (trained with default settings).",
    )
    parser.add_argument("--only", help=f"comma-separated rows (default: {','.join(DEFAULT_ROWS)})")
    parser.add_argument("--quick", action="store_true", help="only the quick preset and the bundled model")
    parser.add_argument("--train-limit", type=int, help="train on this many images (to exercise the bench fast)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per row")
    parser.set_defaults(run=run)


def training_step(model: Any, images: Any, labels: Any) -> Any:
    """One training step of a compiled Keras model on one batch (forward, loss, gradients,
    optimizer update) as a traced function, for timing."""
    import tensorflow as tf

    model.optimizer.build(model.trainable_variables)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=images, y=labels, y_pred=model(images, training=True))
        model.optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    return step


def reference_step_ms() -> float:
    """Median milliseconds of one training step of a fresh fast_cnn on a fixed batch of 128:
    how fast the machine is right now (on a shared machine it drifts by a factor of a few)."""
    import numpy as np
    import tensorflow as tf

    from fmnist_core.classes import NUM_CLASSES
    from fmnist_core.zoo import ZOO

    rng = np.random.default_rng(0)
    step = training_step(
        ZOO["fast_cnn"].build(),
        tf.constant(rng.integers(0, 256, (128, 28, 28)).astype(np.float32)),
        tf.constant(rng.integers(0, NUM_CLASSES, 128)),
    )
    step().numpy()  # trace
    rounds = []
    for _ in range(REFERENCE_ROUNDS):
        start = time.perf_counter()
        for _ in range(REFERENCE_CALLS):
            loss = step()
        loss.numpy()
        rounds.append((time.perf_counter() - start) / REFERENCE_CALLS * 1000)
    return statistics.median(rounds)


def single_image_latency_ms(classifier: Any, images: Any) -> float:
    """Median milliseconds of one image through `prediction.predict`, the inference path of
    the app and of `predict`, after a warm-up."""
    from fmnist_core.prediction import predict

    for i in range(WARMUP_CALLS):
        predict(classifier, images[i])
    times = []
    for i in range(LATENCY_CALLS):
        start = time.perf_counter()
        predict(classifier, images[i % len(images)])
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def latencies_ms(classifier: Any, images: Any) -> tuple[float, float]:
    """One image through TensorFlow, then through what the app uses once it has sped up the
    model (LiteRT where it can run it, else TensorFlow again)."""
    from fmnist_core.prediction import speed_up_predict

    tensorflow = single_image_latency_ms(classifier, images)
    if not speed_up_predict(classifier):
        return tensorflow, tensorflow
    return tensorflow, single_image_latency_ms(classifier, images)


def measure(row: str, data: Any, train_limit: int | None) -> dict[str, Any]:
    from dataclasses import replace

    from fmnist_core import registry
    from fmnist_core.evaluation import evaluate
    from fmnist_core.training import PRESETS, TrainConfig, train

    if row == "bundled":
        classifier = registry.load_default()
        accuracy = evaluate(classifier.predict_proba(data.x_test), data.y_test).accuracy
        train_seconds = classifier.meta.get("train_seconds")
        reference = None
    else:
        config = PRESETS.get(row) or TrainConfig(model=row)
        before = reference_step_ms()
        classifier = train(replace(config, train_limit=train_limit), data)
        reference = (before, reference_step_ms())
        accuracy, train_seconds = classifier.meta["metrics"]["accuracy"], classifier.meta["train_seconds"]
    return {
        "row": row,
        "model": classifier.kind,
        "params": int(classifier.params),
        "train_seconds": train_seconds,
        "accuracy": accuracy,
        "flip_tta": bool(getattr(classifier, "flip_tta", False)),
        "reference_step_ms": reference,  # before and after training; None for the bundled row
        **dict(zip(("tensorflow_ms", "latency_ms"), latencies_ms(classifier, data.x_test))),
    }


def run(args: argparse.Namespace) -> int:
    from fmnist_core.data import load_dataset

    rows = (
        ("quick", "bundled")
        if args.quick
        else tuple(r.strip() for r in (args.only or ",".join(DEFAULT_ROWS)).split(",") if r.strip())
    )
    data = load_dataset()
    if not args.json:
        print(
            f"{'row':<10} {'model':<12} {'params':>9} {'train s':>8} {'test acc':>9} {'1-image ms':>11} "
            f"{'TF ms':>7} {'ref step ms':>12}"
        )
    for row in rows:
        result = measure(row, data, args.train_limit)
        if args.json:
            print(json.dumps(result), flush=True)
            continue
        seconds = "-" if result["train_seconds"] is None else f"{result['train_seconds']:.1f}"
        reference = "-" if result["reference_step_ms"] is None else "{:.1f}/{:.1f}".format(*result["reference_step_ms"])
        tta = " (flip TTA)" if result["flip_tta"] else ""
        print(
            f"{row:<10} {result['model']:<12} {result['params']:>9,} {seconds:>8} "
            f"{result['accuracy']:>9.4f} {result['latency_ms']:>11.2f} "
            f"{result['tensorflow_ms']:>7.2f} {reference:>12}{tta}",
            flush=True,
        )
    return 0
