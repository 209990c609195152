"""The photo path's figures on a folder of real photos laid out like ../shared/photos/dev:

strict and loose accuracy, how often the model says `unsure` on garments Fashion-MNIST has
no class for (hat, shorts, skirt) and on the ones it has, the same per folder, and the time
from bytes to prediction for a 12-megapixel JPEG and for a canvas drawing.

    .venv/bin/python bench/photos.py [--model NAME_OR_PATH] [--repeat 15] [FOLDER]

Without --model it measures what the app and `predict` do by default: photos through the
bundled photo model (assets/photo_model), drawings through the bundled model. The photo
model was fitted on ../shared/photos/dev, so on that folder its own score is optimistic;
there the script also re-runs the cross-validation (each photo scored by a last layer not
fitted on it), which is the honest estimate. Definitions: ../shared/photos/README.md.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fmnist_core.paths import DEV_PHOTOS_DIR as DEFAULT_FOLDER  # noqa: E402
from fmnist_core.image_input import SUFFIXES  # noqa: E402
from fmnist_core.photo_head import PhotoScores  # noqa: E402


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm up: first calls trace TensorFlow functions and fill caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def twelve_megapixel_jpeg(folder: Path) -> bytes:
    """A dev photo upscaled to 4000 x 3000 and saved as a phone would (quality 92)."""
    from PIL import Image

    source = next(p for p in sorted(folder.glob("*/*")) if p.suffix.lower() in SUFFIXES)
    with Image.open(source) as image:
        big = image.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def canvas_drawing(side: int = 400) -> np.ndarray:
    """An RGBA canvas with a T-shirt outline drawn in dark strokes on transparency."""
    import cv2

    rgba = np.zeros((side, side, 4), np.uint8)
    shape = np.array([(0.3, 0.15), (0.7, 0.15), (0.9, 0.35), (0.78, 0.45), (0.72, 0.38),
                      (0.72, 0.85), (0.28, 0.85), (0.28, 0.38), (0.22, 0.45), (0.1, 0.35)])
    cv2.polylines(rgba, [(shape * side).astype(np.int32)], True, (20, 20, 20, 255), 6)
    return rgba


def print_scores(title: str, scores: PhotoScores) -> None:
    print(f"\n{title}")
    print(f"  strict accuracy            {scores.strict:6.1%}   (target >= 80%)")
    print(f"  loose accuracy             {scores.loose:6.1%}   (target >= 85%)")
    print(f"  unsure on hat/shorts/skirt {scores.unsure_out_of_scope:6.1%}   (target >= 70%)")
    print(f"  unsure on mapped folders   {scores.unsure_mapped:6.1%}   (target <= 20%)")
    print(f"  {'folder':<12} {'photos':>6} {'strict':>7} {'loose':>7} {'unsure':>7}")
    for name, row in scores.per_folder.items():
        cells = [f"{row[key]:7.1%}" if key in row else f"{'-':>7}"
                 for key in ("strict", "loose", "unsure")]
        print(f"  {name:<12} {row['photos']:>6} {' '.join(cells)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--model", help="a saved model's name or folder for everything "
                                        "(default: the bundled models, as the app uses them)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per figure")
    args = parser.parse_args(argv)

    from fmnist_core import registry
    from fmnist_core.data import load_dataset
    from fmnist_core.image_input import decode_image
    from fmnist_core.photo import prepare
    from fmnist_core.photo_head import fit_photo_model, load_photo_set, score
    from fmnist_core.prediction import predict_inputs
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
    scores = score(photos, np.array([p.label for p in predictions]),
                   np.array([p.unsure for p in predictions]))

    jpeg, drawing = twelve_megapixel_jpeg(args.folder), canvas_drawing()
    photo_ms = median_ms(lambda: predict_inputs(classifier, [prepare(decode_image(jpeg))],
                                                photo_classifier), args.repeat)
    canvas_ms = median_ms(lambda: predict_inputs(classifier, [sketch_to_input(drawing)],
                                                 photo_classifier), args.repeat)

    answering = args.model or ("assets/photo_model (photos), assets/default_model (drawings)")
    print(f"photos: {args.folder} ({len(photos.folders)} read, {len(photos.skipped)} skipped)")
    print(f"model: {answering}")
    print(f"12 MP JPEG -> prediction   {photo_ms:6.1f} ms median of {args.repeat} (target <= 150)")
    print(f"canvas 400x400 -> predict {canvas_ms:6.1f} ms median of {args.repeat} (target <= 20)")
    fitted_here = photo_classifier is not None and Path(
        photo_classifier.meta.get("photo_head", {}).get("folder", "")).resolve() == args.folder.resolve()
    print_scores("the model as shipped" + (" (fitted on these photos: optimistic)" if fitted_here else ""),
                 scores)
    if fitted_here:
        cv = fit_photo_model(classifier, load_dataset(), photos).cross_validated
        print_scores("5-fold cross-validation of the photo model's recipe (the honest estimate)", cv)
    for path, why in photos.skipped:
        print(f"could not prepare {path}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
