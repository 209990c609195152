"""What a sweep searches: for each training setting (a `TrainConfig` field) a range, a list of
choices or one fixed value; a default per model kind, overridable from a small YAML or JSON file.

A space file names only what it changes, e.g.

    learning_rate: {low: 0.002, high: 0.02, log: true}
    batch_size: [128, 256]
    epochs: 6
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fmnist_core.augment import AUGMENTATIONS
from fmnist_core.errors import FmnistError
from fmnist_core.training import OPTIMIZERS, SCHEDULES, TrainConfig, TrainingError
from fmnist_core.zoo import ZOO


class SpaceError(FmnistError):
    """A search space that cannot be searched; the message names the field."""


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False  # sample evenly in log scale: learning rates and L2 span decades


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]


Space = dict[str, Range | Choice | Any]  # field -> Range | Choice | a fixed value

# The TrainConfig fields a space may set, by kind of value (tests/test_sweep.py checks them
# against TrainConfig). The model is the study's; the rest (preview, devices, folds, mirror
# averaging) do not change what validation accuracy measures.
INT_FIELDS = ("epochs", "batch_size", "early_stopping_patience", "seed", "train_limit")
FLOAT_FIELDS = ("learning_rate", "dropout", "l2", "validation_split")
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {
    "schedule": SCHEDULES,
    "optimizer": OPTIMIZERS,
    "augment": tuple(AUGMENTATIONS),
}
FIELDS = (*INT_FIELDS, *FLOAT_FIELDS, *CHOICE_FIELDS)

# Epochs per trial: enough for the ranking of settings to show, few enough for tens of trials.
TRIAL_EPOCHS = {
    "logreg": 5,
    "mlp": 8,
    "deep_mlp": 8,
    "simple_cnn": 6,
    "fast_cnn": 10,
    "standard_cnn": 10,
    "strong_cnn": 10,
}
BATCHNORM_KINDS = ("fast_cnn", "standard_cnn", "strong_cnn")  # stable at high learning rates


def keras_kinds() -> list[str]:
    return [kind for kind, spec in ZOO.items() if spec.family == "keras"]


def default_space(kind: str) -> Space:
    """Sensible ranges for `kind`, around what its presets and the bench measured."""
    if kind not in ZOO:
        raise SpaceError(f"unknown model {kind!r} (choose from {', '.join(keras_kinds())})")
    if ZOO[kind].family != "keras":
        raise SpaceError(
            f"{kind} is a scikit-learn model, with no training settings to search; "
            f"sweeps are for {', '.join(keras_kinds())}"
        )
    cnn = kind.endswith("cnn")
    return {
        "epochs": TRIAL_EPOCHS[kind],
        "learning_rate": Range(1e-3, 3e-2, log=True) if kind in BATCHNORM_KINDS else Range(1e-4, 1e-2, log=True),
        "batch_size": Choice((128, 256)) if cnn else Choice((64, 128, 256)),
        "schedule": Choice(("constant", "cosine", "onecycle")),
        "optimizer": Choice(("adam", "adamw")),
        "dropout": Range(0.0, 0.4),
        "l2": Range(1e-6, 1e-3, log=True),
        "augment": Choice(("none", "flip", "light")) if cnn else Choice(("none", "flip")),
        "validation_split": 0.1,
    }


def load_space(path: Path, kind: str) -> Space:
    """The default space for `kind` with a YAML or JSON file's fields put over it."""
    import yaml  # JSON is YAML too

    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise SpaceError(f"cannot read the space file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SpaceError(f"the space file {path} is not valid YAML or JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise SpaceError(f"the space file {path} must map field names to ranges, lists or values")
    return override(default_space(kind), raw)


def override(space: Space, changes: Mapping[str, Any]) -> Space:
    """`space` with `changes` (as read from a file: {low, high, log} maps, lists, values)
    parsed and put over it, then checked."""
    merged = dict(space)
    for name, value in changes.items():
        merged[str(name)] = _parse(str(name), value)
    check(merged)
    return merged


def _parse(name: str, value: Any) -> Range | Choice | Any:
    if name not in FIELDS:
        raise SpaceError(f"unknown field {name!r} in the space (fields: {', '.join(FIELDS)})")
    if isinstance(value, Mapping):
        unknown = set(value) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(value):
            raise SpaceError(
                f"field {name!r}: a range is {{low: ..., high: ...}} with an optional log: true, not {dict(value)}"
            )
        if not all(isinstance(value[k], (int, float)) and not isinstance(value[k], bool) for k in ("low", "high")):
            raise SpaceError(f"field {name!r}: low and high must be numbers")
        return Range(value["low"], value["high"], bool(value.get("log", False)))
    if isinstance(value, (list, tuple)):
        return Choice(tuple(value))
    return value


def check(space: Space) -> None:
    """Every field known, every range and choice possible, and every value one the engine
    accepts (each field at its ends, the others at their first value)."""
    for name, param in space.items():
        if name not in FIELDS:
            raise SpaceError(f"unknown field {name!r} in the space (fields: {', '.join(FIELDS)})")
        if isinstance(param, Range):
            if name not in INT_FIELDS + FLOAT_FIELDS:
                raise SpaceError(f"field {name!r} takes a list of choices, not a range")
            if param.low > param.high:
                raise SpaceError(f"field {name!r}: low ({param.low:g}) is above high ({param.high:g})")
            if param.log and param.low <= 0:
                raise SpaceError(f"field {name!r}: a log-scale range must start above 0 (it starts at {param.low:g})")
            if name in INT_FIELDS and not (float(param.low).is_integer() and float(param.high).is_integer()):
                raise SpaceError(f"field {name!r}: a range of whole numbers needs whole ends")
        elif isinstance(param, Choice) and not param.options:
            raise SpaceError(f"field {name!r}: the list of choices is empty")
        for value in ends(param):
            _check_value(name, value)
    first = {name: ends(param)[0] for name, param in space.items()}
    if not first.get("validation_split", TrainConfig.validation_split) > 0:
        raise SpaceError("field 'validation_split': trials are scored on validation accuracy, so it must be above 0")
    for name, param in space.items():
        for value in ends(param):
            try:
                config_for("mlp", {**first, name: value}).validate()
            except TrainingError as exc:
                raise SpaceError(f"field {name!r} = {value!r}: {exc}") from None


def ends(param: Range | Choice | Any) -> list[Any]:
    """The values a check must try: a range's ends, every choice, or the fixed value."""
    if isinstance(param, Range):
        return [param.low, param.high]
    if isinstance(param, Choice):
        return list(param.options)
    return [param]


def _check_value(name: str, value: Any) -> None:
    if name in CHOICE_FIELDS:
        if value not in CHOICE_FIELDS[name]:
            raise SpaceError(f"field {name!r}: unknown choice {value!r} (choose from {', '.join(CHOICE_FIELDS[name])})")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        if not (value is None and name in ("dropout", "l2", "early_stopping_patience", "train_limit")):
            raise SpaceError(f"field {name!r}: {value!r} is not a number")
    elif name in INT_FIELDS and not float(value).is_integer():
        raise SpaceError(f"field {name!r}: {value!r} is not a whole number")


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """One point of the space, drawn through an Optuna trial (fixed values as they are)."""
    values = {}
    for name, param in space.items():
        if isinstance(param, Range) and name in INT_FIELDS:
            values[name] = trial.suggest_int(name, int(param.low), int(param.high), log=param.log)
        elif isinstance(param, Range):
            values[name] = trial.suggest_float(name, float(param.low), float(param.high), log=param.log)
        elif isinstance(param, Choice):
            values[name] = trial.suggest_categorical(name, list(param.options))
        else:
            values[name] = param
    return values


def config_for(kind: str, values: Mapping[str, Any]) -> TrainConfig:
    """The trial's TrainConfig: `values` (augment by name) over the engine's defaults,
    without preview images (a trial never looks at the test set)."""
    fields = dict(values)
    if "augment" in fields:
        fields["augment"] = AUGMENTATIONS[fields["augment"]]
    for name in INT_FIELDS:
        if fields.get(name) is not None:
            fields[name] = int(fields[name])
    return TrainConfig(model=kind, preview_count=0, **fields)


def final_config(kind: str, values: Mapping[str, Any]) -> TrainConfig:
    """The configuration a chosen trial is trained with for good: on every training image,
    with preview images, and mirror averaging when it trained on mirrored images (as the
    presets do)."""
    trial = config_for(kind, values)
    return replace(trial, train_limit=None, preview_count=TrainConfig.preview_count, flip_tta=trial.augment.flip)


def describe(param: Range | Choice | Any) -> str:
    """A field's setting in a line: '0.001 to 0.03 (log)', 'one of 128, 256', '10'."""
    if isinstance(param, Range):
        return f"{param.low:g} to {param.high:g}" + (" (log)" if param.log else "")
    if isinstance(param, Choice):
        return "one of " + ", ".join(str(option) for option in param.options)
    return str(param)
