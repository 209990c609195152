"""Test-time augmentation for the bundled model: which views to average, chosen on the
held-out validation images of its training run, then measured on the test set.

    .venv/bin/python bench/tta.py

Views: the image, its mirror, and both shifted by one pixel left, right, up or down.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def main() -> int:
    from fmnist_core import registry
    from fmnist_core.augment import shifted
    from fmnist_core.classifier import KerasClassifier
    from fmnist_core.data import load_dataset
    from fmnist_core.training import PRESETS, split_train

    bundled = registry.load_default()
    plain = KerasClassifier(bundled.model, bundled.kind)  # one view per call
    data = load_dataset()
    _, validation = split_train(PRESETS["best"], data)  # the run's held-out images
    splits = {"validation": (data.x_train[validation], data.y_train[validation]), "test": (data.x_test, data.y_test)}
    print(f"{'views':<32} {'validation':>10} {'test':>8}")
    rows: dict[str, list[float]] = {}
    for images, labels in splits.values():
        images = images.astype(np.float32)
        base = plain.predict_proba(images)
        mirror = plain.predict_proba(images[:, :, ::-1])
        moved = {
            shift: plain.predict_proba(shifted(images, *shift))
            + plain.predict_proba(shifted(images[:, :, ::-1], *shift))
            for shift in SHIFTS
        }
        choices = {
            "image (1)": base,
            "image + mirror (2)": base + mirror,
            "+ left/right shifts (6)": base + mirror + moved[(1, 0)] + moved[(-1, 0)],
            "+ up/down shifts (6)": base + mirror + moved[(0, 1)] + moved[(0, -1)],
            "+ all four shifts (10)": base + mirror + sum(moved.values()),
        }
        for label, scores in choices.items():
            rows.setdefault(label, []).append(float((scores.argmax(axis=1) == labels).mean()))
    for label, (on_validation, on_test) in rows.items():
        print(f"{label:<32} {on_validation:>10.4f} {on_test:>8.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
