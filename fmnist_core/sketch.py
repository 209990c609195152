"""A canvas drawing -> the 28x28 input the model knows.

People draw outlines; the dataset holds filled silhouettes with soft edges. So the strokes
are found (whatever their colour: ink is what differs from the background), cropped,
closed outlines are filled, strokes are thickened so they survive the shrink to 28, and
the result is laid out like the dataset.
"""

from __future__ import annotations

import numpy as np

from fmnist_core.errors import ImageInputError
from fmnist_core.thumbnail import PipelineResult, fit_to_side

INK_THRESHOLD = 0.2  # share of full contrast a pixel needs to count as a stroke
FILL_LEVEL = 190  # brightness of a filled outline's inside: the dataset's garments are 150-175+
GAP_CLOSING = 1 / 60  # close gaps up to this share of the drawing's size before filling: a
# pen lifted a little early, not the space between two trouser legs (a wider closing turned
# open shapes into blocks)
WORK_SIDE = 112  # the crop is shrunk to this long side first: 4x the output, fast morphology
STROKE_AT_28 = 1.2  # pixels a stroke should be wide once the drawing is 28 pixels tall


def sketch_to_input(rgba: np.ndarray) -> PipelineResult:
    """RGBA (or RGB) canvas of any size, strokes dark or light -> model input and steps."""
    import cv2
    from scipy import ndimage

    ink = ink_strength(rgba)
    strokes = ink > INK_THRESHOLD
    if not strokes.any():
        raise ImageInputError("the canvas is empty: draw something first")
    rows, cols = np.nonzero(strokes)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    ink = _shrink(ink[box])
    strokes = ink > INK_THRESHOLD / 2  # shrinking thins strokes; keep the faint rims
    long_side = max(ink.shape)
    steps: list[tuple[str, np.ndarray]] = [("strokes", (ink * 255).astype(np.uint8))]

    closing = _disc(round(long_side * GAP_CLOSING))
    closed = cv2.morphologyEx(strokes.astype(np.uint8), cv2.MORPH_CLOSE, closing)
    filled = ndimage.binary_fill_holes(closed)
    stroke_radius = round(long_side / 28 * STROKE_AT_28 / 2)
    thick = cv2.dilate((ink * 255).astype(np.uint8), _disc(stroke_radius))
    drawing = np.maximum(thick, np.where(filled, FILL_LEVEL, 0).astype(np.uint8))
    steps.append(("outlines filled", drawing))
    image28 = fit_to_side(drawing)
    steps.append(("model input 28x28", image28))
    return PipelineResult(image28, steps, "sketch")


def ink_strength(rgba: np.ndarray) -> np.ndarray:
    """0..1 per pixel: how much it differs from the background (alpha, or the border's grey).

    On a transparent canvas the strokes are what is opaque; on an opaque one they are what
    differs from the border's brightness, so black-on-white and white-on-black both work.
    """
    array = np.asarray(rgba)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 2:
        raise ImageInputError(f"a drawing must be an RGB or RGBA picture, got shape {array.shape}")
    scale = 255.0 if array.dtype == np.uint8 else float(max(array.max(), 1.0))
    colour = array[..., :3].astype(np.float32) / scale
    gray = colour @ np.array([0.299, 0.587, 0.114], np.float32)
    if array.shape[2] == 4:
        alpha = array[..., 3].astype(np.float32) / scale
        if np.median(_border(alpha)) < 0.5:  # transparent background: opacity is the ink
            return alpha
        gray = gray * alpha + (1.0 - alpha)  # semi-transparent parts over white paper
    background = float(np.median(_border(gray)))
    return np.clip(np.abs(gray - background) / max(background, 1.0 - background), 0.0, 1.0)


def _shrink(ink: np.ndarray) -> np.ndarray:
    import cv2

    scale = WORK_SIDE / max(ink.shape)
    if scale >= 1:
        return ink
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return cv2.resize(ink, size, interpolation=cv2.INTER_AREA)


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])


def _disc(radius: int) -> np.ndarray:
    import cv2

    side = 2 * max(radius, 0) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
