"""How fast the app answers, measured as server time with Streamlit's AppTest (no browser):

- page switch: one script run of each page once the server is warm (dataset, TensorFlow
  and the model loaded, the pages' caches filled), median and worst of several rounds;
- classify: one script run of the Classify page after drawing on the canvas (the canvas
  wrapper returns a different drawing each time), after picking another test image, and
  after uploading a photo; plus the core path alone (pipeline + one batched predict).

AppTest runs the page script in this process exactly as the server would, plus a little
bookkeeping to expose the elements, so these figures are a slight overestimate of the
server's time. Browser rendering and the network are not included.

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
from streamlit.testing.v1 import AppTest  # noqa: E402

from ui.navigation import PAGES, path_of  # noqa: E402

PHOTOS = REPO.parent / "shared" / "photos" / "dev"


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
    registry.save(train(TrainConfig(model="mlp", epochs=1, train_limit=5000), load_dataset()),
                  "bench-mlp")
    return "registry:bench-mlp"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def summary(label: str, seconds: list[float]) -> str:
    return (f"  {label:<34} median {statistics.median(seconds) * 1000:7.0f} ms   "
            f"worst {max(seconds) * 1000:7.0f} ms   ({len(seconds)} runs)")


def checked(app: AppTest) -> AppTest:
    if app.exception:
        raise SystemExit(f"the page raised: {app.exception[0].value}")
    return app


def drawing(seed: int) -> np.ndarray:
    """A white-on-black RGBA drawing of a trouser-like shape, moved a little per seed."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    shift = seed * 7 % 40
    canvas[40 + shift : 240, 90 : 135 + shift // 2, :3] = 255
    canvas[40 + shift : 240, 150 + shift // 3 : 195, :3] = 255
    canvas[40 + shift : 80 + shift, 90:195, :3] = 255
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="bundled or registry:NAME (default: the bundled model)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model_key = choose_model(args.model)

    import ui.canvas
    import ui.classify

    app = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=600)
    app.session_state["models_active"] = model_key
    print(f"Model: {model_key}; {os.cpu_count()} CPU(s); {args.rounds} rounds.\n")

    print("Cold (first visit of each page in a fresh server: loads and caches)")
    checked(app.run())
    for page in PAGES:
        print(summary(page.title, [timed(lambda: checked(app.switch_page(page.path).run()))]))

    print("\nPage switch once warm")
    switches: dict[str, list[float]] = {page.title: [] for page in PAGES}
    for _ in range(args.rounds):
        for page in PAGES:
            switches[page.title].append(timed(lambda: checked(app.switch_page(page.path).run())))
    for title, seconds in switches.items():
        print(summary(title, seconds))
    every = [s for seconds in switches.values() for s in seconds]
    print(summary("all pages", every))

    print("\nClassify page, one script run per user action (whole page: prediction, "
          "probability chart, saliency, similar images)")
    app.switch_page(path_of("classify")).run()
    app.session_state["classify_tab"] = ui.classify.DRAW_TAB
    round_number = iter(range(10_000))
    ui.canvas.draw = lambda key, stroke_width: drawing(next(round_number))
    checked(app.run())
    print(summary("new canvas drawing", [timed(lambda: checked(app.run()))
                                         for _ in range(args.rounds)]))
    app.session_state["classify_tab"] = ui.classify.TEST_IMAGE_TAB
    checked(app.run())
    indices = iter(range(100, 100 + args.rounds))
    print(summary("another 28x28 test image", [
        timed(lambda: checked(app.number_input(key="classify_test_index")
                              .set_value(next(indices)).run()))
        for _ in range(args.rounds)]))
    photos = sorted(PHOTOS.glob("*/*.jpg"))[: args.rounds]
    if photos:
        app.session_state["classify_tab"] = ui.classify.UPLOAD_TAB
        checked(app.run())
        print(summary("a new photo upload (GrabCut)", [
            timed(lambda: checked(app.get("file_uploader")[0].set_value(
                (photo.name, photo.read_bytes(), "image/jpeg")).run()))
            for photo in photos]))

    print("\nCore path alone (what the 300 ms budget is for)")
    from fmnist_core.prediction import predict
    from fmnist_core.sketch import sketch_to_input
    from ui.models import load

    classifier = load(model_key).classifier
    print(summary("canvas: sketch pipeline + predict", [
        timed(lambda: predict(classifier, sketch_to_input(drawing(i)).image28[None]))
        for i in range(args.rounds * 4)]))
    from fmnist_core.data import load_dataset

    x_test = load_dataset().x_test
    print(summary("28x28 image: predict", [timed(lambda: predict(classifier, x_test[i][None]))
                                           for i in range(args.rounds * 4)]))


if __name__ == "__main__":
    main()
