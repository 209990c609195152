"""The photo path's figures on a folder of real photos laid out like ../shared/photos/dev:

strict and loose accuracy, how often the model says `unsure` on garments Fashion-MNIST has
no class for (hat, shorts, skirt) and on the ones it has, accuracy per folder, and the
time from bytes to prediction for a 12-megapixel JPEG and for a canvas drawing.

    .venv/bin/python bench/photos.py [--model NAME_OR_PATH] [--repeat 15] [FOLDER]

Definitions: ../shared/photos/README.md. Without --model it uses the bundled model.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fmnist_core.paths import DEV_PHOTOS_DIR as DEFAULT_FOLDER  # noqa: E402
UPPER_BODY = frozenset({0, 2, 4, 6})
STRICT = {"dress": 3, "pants": 1, "t-shirt": 0, "shirt": 6, "outwear": 4}
LOOSE = {"dress": frozenset({3}), "pants": frozenset({1}), "t-shirt": UPPER_BODY,
         "shirt": UPPER_BODY, "outwear": UPPER_BODY, "longsleeve": UPPER_BODY,
         "shoes": frozenset({5, 7, 9})}
OUT_OF_DISTRIBUTION = frozenset({"hat", "shorts", "skirt"})
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


@dataclass
class PhotoScores:
    strict: float
    loose: float
    unsure_ood: float
    unsure_mapped: float
    per_folder: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, why), counted wrong


def score_folder(classifier, folder: Path = DEFAULT_FOLDER) -> PhotoScores:
    """Every photo through decode -> prepare, then ONE batched prediction, then the scores."""
    from fmnist_core.errors import FmnistError
    from fmnist_core.image_input import read_image_file
    from fmnist_core.photo import prepare
    from fmnist_core.prediction import predict

    files = sorted(p for p in folder.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"no photos in {folder}/<class>/")
    images, kept, failed = [], [], []
    for path in files:
        try:
            images.append(prepare(read_image_file(path)).image28)
            kept.append(path)
        except FmnistError as exc:
            failed.append((str(path), str(exc)))
    predictions = dict(zip(kept, predict(classifier, np.stack(images))))
    by_folder: dict[str, list] = {}
    for path in files:
        by_folder.setdefault(path.parent.name, []).append(predictions.get(path))

    def share(folders, test: Callable) -> float:
        outcomes = [test(name, p) for name in folders for p in by_folder.get(name, [])]
        return float(np.mean(outcomes)) if outcomes else float("nan")

    right_strict = lambda name, p: p is not None and p.label == STRICT[name]  # noqa: E731
    right_loose = lambda name, p: p is not None and p.label in LOOSE[name]  # noqa: E731
    unsure = lambda name, p: p is None or p.unsure  # noqa: E731
    per_folder = {}
    for name, preds in sorted(by_folder.items()):
        row = {"photos": len(preds), "unsure": share([name], unsure)}
        if name in STRICT:
            row["strict"] = share([name], right_strict)
        if name in LOOSE:
            row["loose"] = share([name], right_loose)
        per_folder[name] = row
    return PhotoScores(
        strict=share(STRICT, right_strict), loose=share(LOOSE, right_loose),
        unsure_ood=share(OUT_OF_DISTRIBUTION, unsure), unsure_mapped=share(LOOSE, unsure),
        per_folder=per_folder, failed=failed,
    )


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

    source = next(p for p in sorted(folder.glob("*/*")) if p.suffix.lower() in IMAGE_SUFFIXES)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--model", help="a saved model's name or folder (default: bundled)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per figure")
    args = parser.parse_args(argv)

    from fmnist_core import registry
    from fmnist_core.image_input import decode_image
    from fmnist_core.photo import prepare
    from fmnist_core.prediction import predict, unsure_rule
    from fmnist_core.sketch import sketch_to_input

    classifier = registry.load(args.model) if args.model else registry.load_default()
    scores = score_folder(classifier, args.folder)
    jpeg, drawing = twelve_megapixel_jpeg(args.folder), canvas_drawing()
    photo_ms = median_ms(lambda: predict(classifier, prepare(decode_image(jpeg)).image28),
                         args.repeat)
    canvas_ms = median_ms(lambda: predict(classifier, sketch_to_input(drawing).image28),
                          args.repeat)

    rule = unsure_rule(classifier)
    print(f"photos: {args.folder}   model: {args.model or 'bundled default'}")
    print(f"unsure rule: {rule['rule']} < {rule['threshold']} ({rule['calibrated_on']})")
    print(f"strict accuracy            {scores.strict:6.1%}   (target >= 80%)")
    print(f"loose accuracy             {scores.loose:6.1%}   (target >= 85%)")
    print(f"unsure on hat/shorts/skirt {scores.unsure_ood:6.1%}   (target >= 70%)")
    print(f"unsure on mapped folders   {scores.unsure_mapped:6.1%}   (target <= 20%)")
    print(f"12 MP JPEG -> prediction   {photo_ms:6.1f} ms median of {args.repeat} "
          "(target <= 150)")
    print(f"canvas 400x400 -> predict {canvas_ms:6.1f} ms median of {args.repeat} "
          "(target <= 20)")
    print(f"{'folder':<12} {'photos':>6} {'strict':>7} {'loose':>7} {'unsure':>7}")
    for name, row in scores.per_folder.items():
        cells = [f"{row[key]:7.1%}" if key in row else f"{'-':>7}"
                 for key in ("strict", "loose", "unsure")]
        print(f"{name:<12} {row['photos']:>6} {' '.join(cells)}")
    for path, why in scores.failed:
        print(f"could not prepare {path}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
