"""Drawings for the sketch tests and the sketch benchmark: a T-shirt outline, as a person
draws one on the canvas."""

from __future__ import annotations

import numpy as np

# The outline's corners as fractions of the canvas side, clockwise from the left shoulder.
SHIRT = np.array(
    [
        (0.3, 0.15),
        (0.7, 0.15),
        (0.9, 0.35),
        (0.78, 0.45),
        (0.72, 0.38),
        (0.72, 0.85),
        (0.28, 0.85),
        (0.28, 0.38),
        (0.22, 0.45),
        (0.1, 0.35),
    ]
)


def outline(side: int, channels: int, background: int, ink: int, alpha_background: int = 255) -> np.ndarray:
    """A `side` x `side` canvas of `channels` (3 or 4) filled with `background`, the shirt's
    outline drawn on it in `ink`; `alpha_background` 0 makes a transparent canvas."""
    import cv2

    canvas = np.full((side, side, channels), background, np.uint8)
    if channels == 4:
        canvas[..., 3] = alpha_background
    colour = (ink, ink, ink, 255)[:channels]
    cv2.polylines(canvas, [(SHIRT * side).astype(np.int32)], True, colour, max(2, side // 80))
    return canvas
