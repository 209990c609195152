"""`train`: train a zoo model or a preset, show progress, save it (or bundle it with a card).

The bundled model in assets/default_model/ is made by exactly one command:

    python -m fmnist_core train --preset best --bundle
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from fmnist_core.registry import DEFAULT_MODEL, MODEL_CARD

# Copies of names defined in fmnist_core.training, .augment and .zoo, so that `--help` needs
# no TensorFlow; tests/test_training.py checks that they match.
PRESET_NAMES = ("quick", "standard", "best")
AUGMENT_NAMES = ("none", "flip", "light", "basic", "photo")
MODEL_NAMES = (
    "logreg",
    "mlp",
    "deep_mlp",
    "simple_cnn",
    "fast_cnn",
    "standard_cnn",
    "strong_cnn",
    "sk_logreg",
    "sk_svm",
    "sk_forest",
)
SCHEDULE_NAMES = ("constant", "cosine", "onecycle")
OPTIMIZER_NAMES = ("adam", "adamw", "sgd")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (a zoo kind or a preset) and save it",
        description="Train a model on Fashion-MNIST, evaluate it on the 10,000 test images and "
        "save it in the model registry. The bundled default model is made by "
        "`train --preset best --bundle`.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", metavar="KIND", help=f"a zoo model: {', '.join(MODEL_NAMES)}")
    which.add_argument("--preset", choices=PRESET_NAMES, help="a tuned configuration")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--schedule", choices=SCHEDULE_NAMES)
    parser.add_argument("--optimizer", choices=OPTIMIZER_NAMES)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--l2", type=float)
    parser.add_argument("--augment", choices=AUGMENT_NAMES, help="augmentation set (default: the preset's, or none)")
    parser.add_argument("--validation-split", type=float)
    parser.add_argument(
        "--patience",
        type=int,
        dest="early_stopping_patience",
        help="stop after this many epochs without validation progress",
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument("--train-limit", type=int, help="train on only this many (stratified) images")
    parser.add_argument(
        "--cv",
        type=int,
        metavar="K",
        dest="cv_folds",
        help="scikit-learn models: also report K-fold cross-validation on the training images",
    )
    parser.add_argument(
        "--flip-tta", action="store_true", default=None, help="predict with the average of each image and its mirror"
    )
    parser.add_argument("--name", help="registry name (default: kind and time)")
    parser.add_argument("--no-save", action="store_true", help="do not save the model")
    parser.add_argument(
        "--bundle",
        action="store_true",
        help=f"write the model as the app's bundled default (assets/{DEFAULT_MODEL}) with a model card",
    )
    parser.add_argument("--json", action="store_true", help="print the final metrics as one JSON object")
    parser.set_defaults(run=run)


OVERRIDES = (
    "epochs",
    "batch_size",
    "learning_rate",
    "schedule",
    "optimizer",
    "dropout",
    "l2",
    "validation_split",
    "early_stopping_patience",
    "seed",
    "train_limit",
    "flip_tta",
    "cv_folds",
)


def config_from_args(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from fmnist_core.augment import AUGMENTATIONS
    from fmnist_core.training import PRESETS, TrainConfig

    config = PRESETS[args.preset] if args.preset else TrainConfig(model=args.model)
    changes = {key: getattr(args, key) for key in OVERRIDES if getattr(args, key) is not None}
    if args.augment:
        changes["augment"] = AUGMENTATIONS[args.augment]
    config = replace(config, **changes)
    config.validate()
    return config


class Progress:
    """A one-line bar redrawn with \\r on a terminal; otherwise one line per epoch (and per
    stage of a forest)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.tty = stream, stream.isatty()
        self.stage_bar_open = False  # a forest's bar stays on screen when the fit stops early

    def __call__(self, event: Any) -> None:
        from fmnist_core.training import BatchProgress, EpochEnd, FitProgress, PhaseChange, TrainingDone

        if self.stage_bar_open and not isinstance(event, FitProgress):
            self.stream.write("\n")  # keep where a stopped forest got to
            self.stage_bar_open = False
        if isinstance(event, BatchProgress) and self.tty:
            self._line(
                f"epoch {event.epoch + 1} {_bar(event.step, event.steps_per_epoch)} "
                f"loss {event.loss:.4f} acc {event.accuracy:.4f} {event.images_per_second:,.0f} img/s",
                end="",
            )
        elif isinstance(event, FitProgress):
            keep_open = self.tty and event.done < event.total
            self._line(
                f"fitting {_bar(event.done, event.total)} {event.unit} {event.elapsed:.0f}s",
                end="" if keep_open else "\n",
            )
            self.stage_bar_open = keep_open
        elif isinstance(event, EpochEnd):
            val = f" val_acc {event.val_accuracy:.4f}" if event.val_accuracy is not None else ""
            self._line(
                f"epoch {event.epoch + 1}/{event.epochs} loss {event.loss:.4f} acc {event.accuracy:.4f}"
                f"{val} lr {event.learning_rate:.2e} {event.elapsed:.0f}s, ~{event.eta_seconds:.0f}s left"
            )
        elif isinstance(event, PhaseChange):
            self._line(f"{event.phase}: {event.detail}")
        elif isinstance(event, TrainingDone):
            self._line(f"done in {event.elapsed:.1f}s ({event.reason})")

    def _line(self, text: str, end: str = "\n") -> None:
        prefix = "\r\033[K" if self.tty else ""
        self.stream.write(prefix + text + end)
        self.stream.flush()


def _bar(done: int, total: int) -> str:
    return f"[{'#' * int(done / total * 20):<20}] {done}/{total}"


def summary(classifier: Any, name: str | None, path: Path | None) -> dict[str, Any]:
    meta = classifier.meta
    return {
        "name": name,
        "path": str(path) if path else None,
        "kind": classifier.kind,
        "accuracy": meta["metrics"]["accuracy"],
        "macro_f1": meta["metrics"]["macro_f1"],
        "params": int(classifier.params),
        "train_seconds": meta["train_seconds"],
        "epochs_run": len(meta["history"].get("loss", [])),
        "stopped_early": meta["stopped_early"],
        "flip_tta": meta["flip_tta"],
        **({"cross_validation": meta["cross_validation"]} if "cross_validation" in meta else {}),
    }


def hardware() -> str:
    """CPU model and core count as lscpu reports them, plus Python and TensorFlow versions."""
    import tensorflow as tf

    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        lines = []
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    cpu = fields.get("Model name", platform.processor() or "unknown CPU").strip()
    cores = fields.get("CPU(s)", "?").strip()
    return (
        f"{cpu}, {cores} CPU(s), {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}"
    )


def model_card(classifier: Any, command: str) -> str:
    """The bundled model's card: how it was made, how well it does, class by class."""
    from fmnist_core.report import model_card as card

    return card(
        classifier.meta,
        f"Bundled model: {classifier.meta['title']}",
        command,
        facts=[f"hardware: {hardware()}"],
        footer=AUGMENTATION_NOTE,
    )


AUGMENTATION_NOTE = """Augmentation (`augment` above, see `fmnist_core/augment.py`): mirror images, shifts, scale
jitter and random erasing, plus, with probability `photo`, what the app's photo pipeline makes
of a real phone photo (contrast stretching, gamma, a hard mask edge, blur, noise). Kept mild:
a stronger setting cost test accuracy in a 20-epoch run.
Training time was measured on a shared machine: other processes used the same cores."""


def bundle(classifier: Any, folder: Path, command: str) -> Path:
    """Write the model (atomically, through the registry) and its card into folder/default_model."""
    from fmnist_core import registry

    path = registry.save(classifier, DEFAULT_MODEL, folder=folder, overwrite=True)
    (path / MODEL_CARD).write_text(model_card(classifier, command))
    return path


def run(args: argparse.Namespace) -> int:
    from fmnist_core import registry
    from fmnist_core.data import load_dataset
    from fmnist_core.evaluation import cross_validation_text
    from fmnist_core.paths import ASSETS_DIR
    from fmnist_core.training import train

    config = config_from_args(args)
    if args.name and not (args.bundle or args.no_save):
        registry.check_new_name(args.name)
    data = load_dataset()
    progress = Progress(sys.stderr if args.json else sys.stdout)
    classifier = train(config, data, on_event=progress)
    name, path = None, None
    if args.bundle:
        command = shlex.join(["python", "-m", "fmnist_core", *sys.argv[1:]])
        name, path = DEFAULT_MODEL, bundle(classifier, ASSETS_DIR, command)
    elif not args.no_save:
        name = args.name or f"{classifier.kind}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        path = registry.save(classifier, name)
    result = summary(classifier, name, path)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['kind']}: test accuracy {result['accuracy']:.4f}, macro F1 {result['macro_f1']:.4f}, "
            f"{result['params']:,} parameters, {result['train_seconds']:.1f}s of training"
            + (f", saved to {path}" if path else "")
        )
        if "cross_validation" in result:
            print(cross_validation_text(result["cross_validation"]))
    return 0
