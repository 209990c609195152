"""Server time of the Layers view for one image: the traced call through every stage plus
building every picture and chart (`ui.layers.build_view`), and what Streamlit then does to
send them (PNG-encoding each mosaic, plotly's JSON of each chart).

The bundled model (strong_cnn) as saved; fast_cnn, standard_cnn and the seed MLP freshly
built (the time does not depend on the weights' values). Per model: one warm-up image (it
traces the probe), then the median and worst over `--images` test images, with the default
16 feature maps per layer and with every channel.

    .venv/bin/python bench/layers.py [--images 20]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("FMNIST_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import streamlit  # noqa: E402, F401 - sets up its loggers, quietened here:
from PIL import Image  # noqa: E402

from fmnist_core import layers, registry, zoo  # noqa: E402
from fmnist_core.data import load_dataset  # noqa: E402

# ui.layers' caches warn that no Streamlit server runs: true here, and not worth a line each.
for name in ("cache_data_api", "cache_resource_api"):
    logging.getLogger(f"streamlit.runtime.caching.{name}").setLevel(logging.ERROR)
from ui.layers import CHANNEL_CHOICES, build_view  # noqa: E402


def processor() -> str:
    """The CPU's model name: the machines this project runs on differ by up to twice."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def view_seconds(model, image: np.ndarray, shown: int) -> tuple[float, float]:
    """(the traced call alone, the whole view) for one image, in seconds."""
    start = time.perf_counter()
    layers.stage_outputs(model, image)
    traced = time.perf_counter() - start
    start = time.perf_counter()
    view = build_view(model, image, shown)
    for picture in [view.filters] + [p.picture for p in view.stages]:
        if picture is not None:
            Image.fromarray(picture).save(io.BytesIO(), format="PNG")
    for figure in (p.figure for p in view.stages if p.figure is not None):
        figure.to_json()
    return traced, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    args = parser.parse_args()
    data = load_dataset()
    models = {"bundled strong_cnn": registry.load(registry.default_model_path()).model}
    models.update({kind: zoo.ZOO[kind].build() for kind in ("fast_cnn", "standard_cnn", "mlp")})
    print(
        f"# bench/layers.py ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); "
        f"{processor()}, {os.cpu_count()} CPU(s); "
        f"load before: {load_average()}"
    )
    print(f"{'model':<20} {'maps/layer':>10} {'traced call ms':>15} {'whole view ms':>14} {'worst ms':>9}")
    for name, model in models.items():
        build_view(model, data.x_test[0], CHANNEL_CHOICES[0])  # traces the probe
        for shown, label in ((CHANNEL_CHOICES[0], str(CHANNEL_CHOICES[0])), (10**6, "all")):
            runs = [view_seconds(model, data.x_test[i], shown) for i in range(1, args.images + 1)]
            traced, whole = zip(*runs)
            print(
                f"{name:<20} {label:>10} {1000 * statistics.median(traced):>15.1f} "
                f"{1000 * statistics.median(whole):>14.1f} {1000 * max(whole):>9.1f}"
            )
    print(f"# load after: {load_average()}")


if __name__ == "__main__":
    main()
