"""The photo path's figures on a folder of real photos laid out like ../shared/photos/dev:

strict and loose accuracy, how often the model says `unsure` on garments Fashion-MNIST has
no class for (hat, shorts, skirt) and on the ones it has, the same per folder, and the time
from bytes to prediction for a 12-megapixel JPEG and for a canvas drawing.

    .venv/bin/python bench/photos.py [--model NAME_OR_PATH] [--repeat 15] [FOLDER]

Without --model it measures what the app and `predict` do by default: photos through the
bundled photo model (assets/photo_model), drawings through the bundled model. The photo
model is fitted on ../shared/photos/train and worn, never on dev (the default FOLDER); the
script recognises the photos a model was fitted on by their content, wherever the folder
is, and labels figures on them in-sample. Definitions: ../shared/photos/README.md.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fmnist_core.image_input import SUFFIXES  # noqa: E402
from fmnist_core.paths import DEV_PHOTOS_DIR as DEFAULT_FOLDER  # noqa: E402
from fmnist_core.photo_head import PhotoScores  # noqa: E402

from drawings import outline  # noqa: E402


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm up: first calls trace TensorFlow functions and fill caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def twelve_megapixel_jpeg(folder: Path) -> bytes:
    """A photo of the folder upscaled to 4000 x 3000 and saved as a phone would (quality 92)."""
    from PIL import Image

    source = next(p for p in sorted(folder.glob("*/*")) if p.suffix.lower() in SUFFIXES)
    with Image.open(source) as image:
        big = image.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def canvas_drawing(side: int = 400) -> np.ndarray:
    """An RGBA canvas with a T-shirt outline drawn in dark strokes on transparency."""
    return outline(side, channels=4, background=0, ink=20, alpha_background=0)


def print_scores(title: str, scores: PhotoScores) -> None:
    from fmnist_core.photo_head import TARGETS

    print(f"\n{title}")
    for key, text in (
        ("strict", "strict accuracy"),
        ("loose", "loose accuracy"),
        ("unsure_out_of_scope", "unsure on hat/shorts/skirt"),
        ("unsure_mapped", "unsure on mapped folders"),
    ):
        bound, target = TARGETS[key]
        print(f"  {text:<26} {getattr(scores, key):6.1%}   (target {bound} {target:.0%})")
    print(f"  {'folder':<12} {'photos':>6} {'strict':>7} {'loose':>7} {'unsure':>7}")
    for name, row in scores.per_folder.items():
        cells = [f"{row[key]:7.1%}" if key in row else f"{'-':>7}" for key in ("strict", "loose", "unsure")]
        print(f"  {name:<12} {row['photos']:>6} {' '.join(cells)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument(
        "--model",
        help="a saved model's name or folder for everything (default: the bundled models, as the app uses them)",
    )
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per figure")
    args = parser.parse_args(argv)

    from fmnist_core import registry
    from fmnist_core.image_input import decode_image
    from fmnist_core.photo import prepare
    from fmnist_core.photo_head import fitted_on, load_photo_set, score
    from fmnist_core.routing import predict_inputs
    from fmnist_core.sketch import sketch_to_input
    from fmnist_core.thumbnail import PipelineResult

    if args.model:
        classifier, photo_classifier = registry.load(args.model), None
    else:
        classifier = registry.load_default()
        photo_classifier = registry.load(registry.photo_model_path())
    photos = load_photo_set(args.folder)
    results = [PipelineResult(image, kind="photo") for image in photos.images]
    predictions = predict_inputs(classifier, results, photo_classifier)
    scores = score(photos, np.array([p.label for p in predictions]), np.array([p.unsure for p in predictions]))

    jpeg, drawing = twelve_megapixel_jpeg(args.folder), canvas_drawing()
    load_before = os.getloadavg()[0]
    photo_ms = median_ms(
        lambda: predict_inputs(classifier, [prepare(decode_image(jpeg))], photo_classifier), args.repeat
    )
    canvas_ms = median_ms(lambda: predict_inputs(classifier, [sketch_to_input(drawing)], photo_classifier), args.repeat)

    answering = photo_classifier or classifier
    print(f"photos: {args.folder} ({len(photos.folders)} read, {len(photos.skipped)} skipped)")
    print(
        f"model: {args.model or 'assets/photo_model (photos), assets/default_model (drawings)'}"
        f"; Fashion-MNIST test accuracy of the model answering photos: "
        f"{answering.meta.get('metrics', {}).get('accuracy', float('nan')):.4f}"
    )
    print(f"12 MP JPEG -> prediction   {photo_ms:6.1f} ms median of {args.repeat} (target <= 150)")
    print(f"canvas 400x400 -> predict {canvas_ms:6.1f} ms median of {args.repeat} (target <= 20)")
    print(
        f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after timing, {os.cpu_count()} CPUs"
    )
    seen = fitted_on(answering, photos.files)
    if seen is None:
        where = answering.meta["photo_head"].get("folder", "an unrecorded folder")
        label = (
            f" (MAYBE IN-SAMPLE: fitted on photos of {where}, and the model does not record which: treat as optimistic)"
        )
    elif seen:
        label = f" (IN-SAMPLE: fitted on {seen} of these {len(photos.files)} photos, optimistic)"
    else:
        label = " (fitted on none of these photos)"
    print_scores("the model as shipped" + label, scores)
    for path, why in photos.skipped:
        print(f"could not prepare {path}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
