"""The dataset's own layout, shared by the photo and sketch paths, and what they return.

Zalando made each thumbnail by trimming to the object, resizing the longest edge to 28
and extending the short edge to 28 centred (the Fashion-MNIST README). Any input that
wants the model to recognise it must end up laid out the same way: centred by bounding
box, filling the long side, bright on black.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIDE = 28


@dataclass
class PipelineResult:
    """The model's input plus every intermediate picture, so the app can show its work."""

    image28: np.ndarray  # (28, 28) uint8, bright object on black
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (title, RGB or L uint8)
    kind: str = "photo"  # "photo" | "fmnist" | "sketch"


def fit_to_side(gray: np.ndarray, side: int = SIDE) -> np.ndarray:
    """Crop a bright-on-black image to its content, long side to `side`, short side centred."""
    import cv2

    rows, cols = np.nonzero(gray > 0)
    if len(rows) == 0:
        return np.zeros((side, side), np.uint8)
    crop = gray[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    shrinking = scale < 1
    resized = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    out = np.zeros((side, side), np.uint8)
    top, left = (side - new_h) // 2, (side - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out
