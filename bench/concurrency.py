"""Classify latency with many users: N sessions classify test images on the Classify page
while another session trains, and the time from committing an image number to the end of
the script run is measured, as a user would wait for it. The trainer's speed (images per
second, from its page) is sampled alone first, then while the users click.

    .venv/bin/python bench/concurrency.py                 # its own server, 8 users + trainer
    .venv/bin/python bench/concurrency.py --users 8 --images 3 --crowd 16 --bundled
    .venv/bin/python bench/concurrency.py --url http://127.0.0.1:8501 --model NAME
    .venv/bin/python bench/concurrency.py --client browser   # Chromium pages instead

The users are websocket clients by default (tests/browser/websocket_user.py): they send
and read what a browser would, so the figures are the server's; in a room every browser
runs on its own machine. `--client browser` drives Chromium pages on this machine instead,
whose drawing then takes most of its two cores.

Without --url it starts `streamlit run` on a free port with an empty model folder and
trains a small MLP into it with the CLI (the same setup as the browser tests), or uses the
bundled model (--bundled). Prints the median and 95th percentile: one user alone, `--crowd`
users with nobody training, then `--users` users while another session trains the
`--trainer` preset.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))

from crowd import CrowdReport, run_crowd, run_in_thread  # noqa: E402
from driver import REPO_ROOT, AppServer, train_seed_model  # noqa: E402
from websocket_user import websocket_crowd  # noqa: E402

BUNDLED_LABEL = "Bundled model"  # the model picker's option for the bundled model


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summarise(label: str, seconds: list[float]) -> None:
    print(
        f"{label:<36} n={len(seconds):>3}  median {statistics.median(seconds) * 1000:7.0f} ms"
        f"  p95 {percentile(seconds, 0.95) * 1000:7.0f} ms  max {max(seconds) * 1000:7.0f} ms"
    )


TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by the process `pid` (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (neither idle nor waiting on I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS


def with_cpu(label: str, server_pid: int | None, run):
    """`run()`, then where the CPU went meanwhile: the app server, and everything else on
    the machine (the clients, a training run, and other work if any)."""
    server_before, machine_before = (process_cpu(server_pid) if server_pid else 0.0), machine_cpu()
    result = run()
    machine = machine_cpu() - machine_before
    if server_pid:
        server = process_cpu(server_pid) - server_before
        print(
            f"  CPU meanwhile ({label}): the app server {server:.1f} s, everything else "
            f"{machine - server:.1f} s (the clients, a training run)"
        )
    return result


def run_users(
    client: str,
    url: str,
    model: str,
    users: int,
    images: int,
    trainer: str | None = None,
    alone_seconds: float = 0,
    think: float = 0,
) -> CrowdReport:
    """`users` sessions classifying `images` test images each, and a trainer if `trainer`
    (a preset; the browser client also takes None for its long CNN run)."""
    if client == "websocket":
        # With a trainer, the users click for as long as the trainer was timed alone.
        return run_in_thread(websocket_crowd(url, model, users, images, trainer, alone_seconds, alone_seconds, think))
    return run_crowd(
        url=url,
        model=model,
        users=users,
        images_per_user=images,
        train=trainer is not None or alone_seconds > 0,
        trainer_preset=trainer,
        alone_seconds=alone_seconds,
    )


def measure(
    url: str,
    model: str,
    users: int,
    images: int,
    crowd: int,
    trainer: str | None,
    alone_seconds: float,
    client: str,
    think: float,
    server_pid: int | None = None,
) -> None:
    print(f"users: {client} clients, looking at each answer for {think:g} s", flush=True)
    alone = run_users(client, url, model, 1, images)
    summarise("1 user, nobody training", [a.seconds for a in alone.answers])
    if crowd:
        many = with_cpu(f"{crowd} users", server_pid, lambda: run_users(client, url, model, crowd, images, think=think))
        summarise(f"{crowd} users, nobody training", [a.seconds for a in many.answers])
        check(many, crowd * images)
    loaded = with_cpu(
        f"{users} users and a trainer",
        server_pid,
        lambda: run_users(client, url, model, users, images, trainer, alone_seconds, think),
    )
    summarise(f"{users} users while another trains", [a.seconds for a in loaded.answers])
    check(loaded, users * images)
    print(f"training still running when the users were done: {loaded.trained_throughout}")
    if loaded.training_rates_alone and loaded.training_rates_loaded:
        before = statistics.median(loaded.training_rates_alone)
        during = statistics.median(loaded.training_rates_loaded)
        print(
            f"trainer ({trainer or 'Simple CNN, 100 epochs'}): median {before:,.0f} images/s "
            f"alone ({len(loaded.training_rates_alone)} samples), {during:,.0f} while the "
            f"users clicked ({len(loaded.training_rates_loaded)} samples): "
            f"{before / during:.2f} times as long"
        )


def check(report, expected: int) -> None:
    """Every answer came, and each page showed the true class of the image its own user
    asked for (an answer meant for another session would show another image's class)."""
    from fmnist_core.classes import CLASS_NAMES
    from fmnist_core.data import load_dataset

    labels = load_dataset().y_test
    own = sum(a.true_class == CLASS_NAMES[labels[a.index]] for a in report.answers)
    print(f"answers: {len(report.answers)} (at least {expected} asked for); {own} showed their own image's class")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--model", help="saved model to classify with (default: train one)")
    parser.add_argument("--bundled", action="store_true", help="classify with the bundled model")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--images", type=int, default=5, help="test images per user")
    parser.add_argument("--crowd", type=int, default=0, help="also measure this many users with nobody training")
    parser.add_argument(
        "--trainer", default="standard", help="the preset the trainer runs ('' for a 100-epoch Simple CNN)"
    )
    parser.add_argument(
        "--alone-seconds", type=float, default=30, help="how long to time the trainer before the users come"
    )
    parser.add_argument(
        "--client", choices=["websocket", "browser"], default="websocket", help="what the users are (see above)"
    )
    parser.add_argument(
        "--think", type=float, default=0, help="seconds a websocket user looks at an answer (0: click on at once)"
    )
    args = parser.parse_args()
    if args.client == "websocket" and not args.trainer:
        parser.error("websocket users train a preset: give --trainer NAME")
    options = dict(
        users=args.users,
        images=args.images,
        crowd=args.crowd,
        trainer=args.trainer or None,
        alone_seconds=args.alone_seconds,
        client=args.client,
        think=args.think,
    )
    if args.url:
        if not (args.model or args.bundled):
            parser.error("--url needs --model (a model saved in that server's registry) or --bundled")
        measure(args.url, BUNDLED_LABEL if args.bundled else args.model, **options)
        return 0
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start.", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        models = Path(folder) / "models"
        model = BUNDLED_LABEL if args.bundled else (args.model or train_seed_model(models))
        server = AppServer(models, REPO_ROOT / "test-artifacts" / "bench-concurrency-server.log")
        server.start()
        try:
            measure(server.url, model, **options, server_pid=server.process.pid)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
