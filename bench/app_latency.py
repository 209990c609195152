"""How fast the app answers, as server time, measured with Streamlit's AppTest (no browser).

Two clocks per user action:
- "server": the page script's own run (StreamlitPage.run), which is what a real server
  spends before the browser has everything;
- "AppTest": the whole AppTest round trip, which adds the test harness's bookkeeping
  (session mocks, parsing the element tree) and overstates a real server's time.

Measured:
- page switch: one run of each page once the server is warm (dataset, TensorFlow and the
  model loaded, the pages' caches filled), median and worst of several rounds;
- classify: one run of the Classify page after a new canvas drawing (the canvas wrapper
  returns a different drawing each time), another test image, and a photo upload;
  "prediction shown" stops the clock before the saliency map and the similar training
  images, which are drawn after the answer (Streamlit streams elements as they are made);
- the core path alone: pipeline plus one batched predict.

    .venv/bin/python bench/app_latency.py [--model bundled|registry:NAME] [--rounds 5]

Without a bundled or saved model it trains a tiny MLP into a temporary registry first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("FMNIST_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from streamlit.navigation.page import StreamlitPage  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from fmnist_core.paths import EXAMPLES_DIR  # noqa: E402
from ui.navigation import PAGES, path_of  # noqa: E402


class Clock:
    """Accumulated time spent inside the functions it wraps, since the last `reset`."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def reset(self) -> None:
        self.seconds = 0.0

    def wrap(self, function: Callable) -> Callable:
        def timed_call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed_call


class Measurements:
    """Collects (server, AppTest) seconds per label and prints them."""

    def __init__(self, page_clock: Clock, extras: Clock) -> None:
        self.page_clock, self.extras = page_clock, extras
        self.rows: dict[str, tuple[list[float], list[float], list[float]]] = {}

    def measure(self, label: str, action: Callable[[], AppTest]) -> None:
        self.page_clock.reset()
        self.extras.reset()
        start = time.perf_counter()
        app = action()
        round_trip = time.perf_counter() - start
        if app.exception:
            raise SystemExit(f"{label}: the page raised {app.exception[0].value}")
        server, before_extras, apptest = self.rows.setdefault(label, ([], [], []))
        server.append(self.page_clock.seconds)
        before_extras.append(self.page_clock.seconds - self.extras.seconds)
        apptest.append(round_trip)

    def print(self, with_prediction: bool = False) -> None:
        for label, (server, before_extras, apptest) in self.rows.items():
            print(line(label, "server", server))
            if with_prediction:
                print(line("", "prediction shown", before_extras))
            print(line("", "AppTest", apptest))
        self.rows.clear()


def line(label: str, clock: str, seconds: list[float]) -> str:
    return (
        f"  {label:<28} {clock:<17} median {statistics.median(seconds) * 1000:6.0f} ms"
        f"   worst {max(seconds) * 1000:6.0f} ms   ({len(seconds)} runs)"
    )


def choose_model(requested: str | None) -> str:
    """A ui.models key to benchmark with; trains a tiny model if there is nothing at all."""
    from fmnist_core import registry

    if requested:
        return requested
    if registry.default_model_path().is_dir():
        return "bundled"
    entries = [e for e in registry.list_entries() if not e.broken]
    if entries:
        return f"registry:{entries[0].name}"
    from fmnist_core.data import load_dataset
    from fmnist_core.training import TrainConfig, train

    os.environ["FMNIST_MODELS_DIR"] = tempfile.mkdtemp(prefix="fmnist-bench-")
    print("No model found: training a tiny MLP (1 epoch, 5,000 images) to measure with.")
    registry.save(train(TrainConfig(model="mlp", epochs=1, train_limit=5000), load_dataset()), "bench-mlp")
    return "registry:bench-mlp"


def drawing(seed: int) -> np.ndarray:
    """A white-on-black RGBA drawing of a trouser-like shape, moved a little per seed."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    shift = seed * 7 % 40
    canvas[40 + shift : 240, 90 : 135 + shift // 2, :3] = 255
    canvas[40 + shift : 240, 150 + shift // 3 : 195, :3] = 255
    canvas[40 + shift : 80 + shift, 90:195, :3] = 255
    return canvas


def core_path(model_key: str, runs: int) -> None:
    """The work the 300 ms budget is about, without any page around it."""
    from fmnist_core.data import load_dataset
    from fmnist_core.prediction import predict
    from fmnist_core.sketch import sketch_to_input
    from ui.models import load

    classifier = load(model_key).classifier
    x_test = load_dataset().x_test
    canvas, single = [], []
    for i in range(runs):
        start = time.perf_counter()
        predict(classifier, sketch_to_input(drawing(i)).image28[None])
        canvas.append(time.perf_counter() - start)
        start = time.perf_counter()
        predict(classifier, x_test[i][None])
        single.append(time.perf_counter() - start)
    print(line("canvas drawing", "sketch + predict", canvas))
    print(line("28x28 image", "predict", single))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="bundled or registry:NAME (default: the bundled model)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model_key = choose_model(args.model)

    import ui.canvas
    import ui.classify

    page_clock, extras = Clock(), Clock()
    StreamlitPage.run = page_clock.wrap(StreamlitPage.run)
    ui.classify.saliency_panel = extras.wrap(ui.classify.saliency_panel)
    ui.classify.similar_images_panel = extras.wrap(ui.classify.similar_images_panel)
    measurements = Measurements(page_clock, extras)

    app = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=600)
    app.session_state["models_active"] = model_key
    print(
        f"Model: {model_key}; {os.cpu_count()} CPU(s), load average "
        f"{os.getloadavg()[0]:.1f} at start (other processes share them); "
        f"{args.rounds} rounds.\n"
    )

    print("Cold: the first visit of each page in a fresh server (loading and caching)")
    app.run()
    for page in PAGES:
        measurements.measure(page.title, lambda page=page: app.switch_page(page.path).run())
    measurements.print()

    print("\nPage switch once warm")
    for _ in range(args.rounds):
        for page in PAGES:
            measurements.measure(page.title, lambda page=page: app.switch_page(page.path).run())
    measurements.print()

    print("\nClassify page, one run per user action")
    app.switch_page(path_of("classify")).run()
    app.session_state["classify_tab"] = ui.classify.DRAW_TAB
    round_number = iter(range(10_000))
    ui.canvas.draw = lambda key, stroke_width: drawing(next(round_number))
    app.run()
    for _ in range(args.rounds):
        measurements.measure("new canvas drawing", app.run)
    app.session_state["classify_tab"] = ui.classify.TEST_IMAGE_TAB
    app.run()
    for index in range(100, 100 + args.rounds):
        measurements.measure(
            "another test image", lambda index=index: app.number_input(key="classify_test_index").set_value(index).run()
        )
    app.session_state["classify_tab"] = ui.classify.UPLOAD_TAB
    app.run()
    for photo in sorted(EXAMPLES_DIR.glob("photo-*.jpg"))[: args.rounds]:  # shipped with the app
        measurements.measure(
            "new photo upload (GrabCut)",
            lambda photo=photo: (
                app.get("file_uploader")[0].set_value((photo.name, photo.read_bytes(), "image/jpeg")).run()
            ),
        )
    measurements.print(with_prediction=True)

    print("\nCore path alone")
    core_path(model_key, args.rounds * 4)


if __name__ == "__main__":
    main()
