"""Classify latency with many users: N browser sessions classify test images on the
Classify page while another session trains, and the time from committing an image number
to the end of the script run is measured, as a user would wait for it.

    .venv/bin/python bench/concurrency.py                 # its own server, 8 users + trainer
    .venv/bin/python bench/concurrency.py --users 8 --images 6
    .venv/bin/python bench/concurrency.py --url http://127.0.0.1:8501 --model NAME

Without --url it starts `streamlit run` on a free port with an empty model folder and
trains a small MLP into it with the CLI (the same setup as the browser tests). Prints the
median and 95th percentile, first for one user alone, then under load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))

from crowd import run_crowd  # noqa: E402
from driver import REPO_ROOT, AppServer, train_seed_model  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summarise(label: str, seconds: list[float]) -> None:
    print(f"{label:<36} n={len(seconds):>3}  median {statistics.median(seconds) * 1000:7.0f} ms"
          f"  p95 {percentile(seconds, 0.95) * 1000:7.0f} ms  max {max(seconds) * 1000:7.0f} ms")


def measure(url: str, model: str, users: int, images: int) -> None:
    alone = run_crowd(url=url, model=model, users=1, images_per_user=images, train=False)
    summarise("1 user, nobody training", [a.seconds for a in alone.answers])
    loaded = run_crowd(url=url, model=model, users=users, images_per_user=images, train=True)
    summarise(f"{users} users while another trains", [a.seconds for a in loaded.answers])
    print(f"answers: {len(loaded.answers)} of {users * images}; training still running when "
          f"the users were done: {loaded.trained_throughout}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--model", help="saved model to classify with (default: train one)")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--images", type=int, default=5, help="test images per user")
    args = parser.parse_args()
    if args.url:
        if not args.model:
            parser.error("--url needs --model: a model saved in that server's registry")
        measure(args.url, args.model, args.users, args.images)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        models = Path(folder) / "models"
        model = train_seed_model(models)
        server = AppServer(models, REPO_ROOT / "test-artifacts" / "bench-concurrency-server.log")
        server.start()
        try:
            measure(server.url, model, args.users, args.images)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
