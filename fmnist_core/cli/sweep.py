"""`sweep`: search a model's training settings with Optuna, on one machine or many.

python -m fmnist_core sweep --model fast_cnn --trials 30 --timeout 900
python -m fmnist_core sweep --model mlp --trials 40 --workers 2
python -m fmnist_core sweep --model mlp --trials 20 --storage postgresql://user:pw@db/sweeps --study mlp-shared
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TextIO

from fmnist_core.cli.train import MODEL_NAMES

KERAS_NAMES = MODEL_NAMES[:7]  # sweeps tune the Keras models (tests/test_sweep.py checks it)
POLL_SECONDS = 0.5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="search a model's training settings (Optuna)",
        description="Search a Keras model's training settings with Optuna (TPE sampling, pruning of "
        "weak trials on their per-epoch validation accuracy). Trials are scored on "
        "validation accuracy, never on the test set. Studies are kept in "
        "data/sweeps/sweeps.journal (or $FMNIST_SWEEPS_DIR) unless --storage names a "
        "database; running the same study again continues it. Ctrl-C stops the "
        "running trials and keeps the finished ones.",
    )
    parser.add_argument("--model", metavar="KIND", required=True, help=f"one of {', '.join(KERAS_NAMES)}")
    parser.add_argument("--trials", type=int, default=20, help="trials to run (split over the workers)")
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="start no trial after S seconds (a running trial finishes)"
    )
    parser.add_argument(
        "--space",
        type=Path,
        metavar="FILE",
        help="YAML or JSON: ranges, choices or values put over the model's default space",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="a database URL (sqlite:///..., postgresql://..., mysql://...) or a journal "
        "file; workers on several machines with the same URL and --study share it",
    )
    parser.add_argument("--study", metavar="NAME", help="study name (default: the model kind)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    parser.add_argument(
        "--time-objective",
        action="store_true",
        help="also minimise training seconds: a Pareto front (trials are then not pruned)",
    )
    parser.add_argument("--pruner", choices=("median", "halving", "none"), default="median")
    parser.add_argument("--seed", type=int, help="the sampler's seed, for a repeatable search")
    parser.add_argument("--show-space", action="store_true", help="print the space and exit")
    parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    parser.set_defaults(run=run)


def settings_from_args(args: argparse.Namespace) -> Any:
    from fmnist_core.sweep import SweepError, SweepSettings
    from fmnist_core.sweep_space import default_space, load_space

    if args.workers < 1:
        raise SweepError("--workers must be at least 1")
    space = load_space(args.space, args.model) if args.space else default_space(args.model)
    settings = SweepSettings(
        model=args.model,
        trials=args.trials,
        timeout=args.timeout,
        space=space,
        storage=args.storage,
        study=args.study,
        time_objective=args.time_objective,
        pruner=args.pruner,
        seed=args.seed,
    )
    settings.validate()
    return settings


class Report:
    """One line per trial start and end, and per epoch on a terminal; `[worker N]` in front
    when several workers run."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.tty = stream, stream.isatty()

    def __call__(self, event: Any, worker: int | None = None) -> None:
        from fmnist_core.sweep import SweepDone, SweepStarted, TrialEnded, TrialStarted
        from fmnist_core.training import EpochEnd

        line = None
        if isinstance(event, SweepStarted):
            resumed = f", continuing after {event.earlier_trials} trials" if event.earlier_trials else ""
            line = (
                f"study {event.study!r} in {event.storage}{resumed}; objective: "
                f"{' and '.join(event.objectives)}; pruner: {event.pruner}"
            )
        elif isinstance(event, TrialStarted):
            line = f"trial {event.number}: " + ", ".join(f"{k}={_short(v)}" for k, v in event.params.items())
        elif isinstance(event, EpochEnd) and self.tty:
            line = (
                f"  epoch {event.epoch + 1}/{event.epochs} val_acc {event.val_accuracy or 0:.4f} {event.elapsed:.0f}s"
            )
        elif isinstance(event, TrialEnded):
            accuracy = f"validation accuracy {event.accuracy:.4f}" if event.accuracy is not None else "no accuracy"
            seconds = f" in {event.seconds:.1f} s" if event.seconds is not None else ""
            line = f"trial {event.number} {event.state} after {event.epochs} epoch(s): {accuracy}{seconds}" + (
                f" ({event.message})" if event.message else ""
            )
        elif isinstance(event, SweepDone):
            line = f"{event.trials} trial(s) run in {event.elapsed:.0f} s ({event.reason})"
        if line is not None:
            prefix = f"[worker {worker}] " if worker is not None else ""
            self.stream.write(prefix + line + "\n")
            self.stream.flush()


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def train_command(config: Any) -> str:
    """The `train` command that trains `config` (a TrainConfig) for good."""
    from fmnist_core.augment import augmentation_name
    from fmnist_core.training import TrainConfig

    default = TrainConfig(model=config.model)
    words = ["python", "-m", "fmnist_core", "train", "--model", config.model]
    for item in fields(TrainConfig):
        value = getattr(config, item.name)
        internal = item.name in ("model", "preview_count", "devices", "steps_per_execution")
        if internal or value == getattr(default, item.name):
            continue
        if item.name == "augment":
            words += ["--augment", augmentation_name(value)]
        elif item.name == "flip_tta":
            words.append("--flip-tta")
        else:
            option = {"early_stopping_patience": "patience", "cv_folds": "cv"}.get(item.name, item.name)
            words += [f"--{option.replace('_', '-')}", f"{value:.6g}" if isinstance(value, float) else str(value)]
    return shlex.join(words)


def run_here(settings: Any, data: Any, report: Report) -> Any:
    """One worker in this process; the first Ctrl-C stops it cleanly, a second one at once."""
    import threading

    from fmnist_core.sweep import run_sweep

    stop = threading.Event()

    def on_interrupt(signum: int, frame: Any) -> None:
        report.stream.write("stopping after the running trial's current steps (Ctrl-C again: at once)\n")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop.set()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        return run_sweep(settings, data, report, stop)
    finally:
        signal.signal(signal.SIGINT, previous)


def run_workers(settings: Any, data: Any, workers: int, report: Report) -> tuple[str, int]:
    """`workers` SweepJobs sharing the study and the trials; Ctrl-C stops them all."""
    from dataclasses import replace

    from fmnist_core.jobs import SweepJob
    from fmnist_core.sweep import SweepError, open_study

    open_study(settings)  # made once here, so the workers only join it
    shares = [settings.trials // workers + (i < settings.trials % workers) for i in range(workers)]
    jobs = [SweepJob.start(replace(settings, trials=share), data) for share in shares if share]
    seen = [0] * len(jobs)
    try:
        while any(job.running for job in jobs):
            time.sleep(POLL_SECONDS)
            _drain(jobs, seen, report)
    except KeyboardInterrupt:
        report.stream.write("stopping every worker after its running trial's current steps\n")
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait()
    _drain(jobs, seen, report)
    errors = [job.error for job in jobs if job.error]
    if errors:
        raise SweepError("; ".join(dict.fromkeys(errors)))
    reasons = {job.result.reason for job in jobs}
    reason = "stopped" if "stopped" in reasons else "time limit" if "time limit" in reasons else "completed"
    return reason, sum(job.result.trials_run for job in jobs)


def _drain(jobs: list[Any], seen: list[int], report: Report) -> None:
    for index, job in enumerate(jobs):
        events = job.events
        for event in events[seen[index] :]:
            report(event, worker=index + 1)
        seen[index] = len(events)


def run(args: argparse.Namespace) -> int:
    from fmnist_core.augment import augmentation_name
    from fmnist_core.data import load_dataset
    from fmnist_core.sweep import best_row, find_study, trial_rows
    from fmnist_core.sweep_space import describe, final_config

    settings = settings_from_args(args)
    report = Report(sys.stderr if args.json else sys.stdout)
    if args.show_space:
        for name, param in settings.space.items():
            print(f"{name}: {describe(param)}")
        return 0
    data = load_dataset()
    if args.workers == 1:
        summary = run_here(settings, data, report)
        reason, trials_run = summary.reason, summary.trials_run
    else:
        reason, trials_run = run_workers(settings, data, args.workers, report)
    study = find_study(settings.study_name, settings.storage)
    rows = trial_rows(study)
    best = best_row(rows)
    result = {
        "study": settings.study_name,
        "reason": reason,
        "trials_run": trials_run,
        "trials_in_study": len(rows),
        "best": best,
        "trials": rows,
    }
    if best is not None:
        config = final_config(settings.model, best["config"])
        result["train_best"] = train_command(config)
        result["best_config"] = asdict(config) | {"augment": augmentation_name(config.augment)}
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    counts = {state: sum(r["state"] == state for r in rows) for state in ("complete", "pruned", "stopped", "failed")}
    print(
        f"study {settings.study_name!r}: {len(rows)} trials ("
        + ", ".join(f"{n} {state}" for state, n in counts.items() if n)
        + ")"
    )
    if best is None:
        print("no complete trial yet")
        return 0
    print(
        f"best: trial {best['trial']}, validation accuracy {best['validation accuracy']:.4f} "
        f"in {best['seconds']:.1f} s of training"
    )
    print("train it for good (test accuracy measured then, for the first time):")
    print("  " + result["train_best"])
    return 0
