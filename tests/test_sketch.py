"""The sketch path: strokes of any colour on any canvas become a filled, centred silhouette."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fmnist_core.errors import ImageInputError
from fmnist_core.sketch import FILL_LEVEL, sketch_to_input

from drawings import outline


def test_outline_on_transparent_canvas_becomes_a_filled_silhouette():
    result = sketch_to_input(outline(400, 4, 0, 20, alpha_background=0))
    image = result.image28
    assert result.kind == "sketch" and image.shape == (28, 28) and image.dtype == np.uint8
    assert image[0, 0] == 0 and image[-1, -1] == 0  # black background
    assert image[16, 14] >= FILL_LEVEL - 10  # the inside is filled, bright
    rows = np.flatnonzero(image.max(axis=1) > 0)
    cols = np.flatnonzero(image.max(axis=0) > 0)
    assert cols.max() - cols.min() + 1 == 28  # the shirt is wider than tall: width fills
    assert abs((rows.min() + rows.max()) / 2 - 13.5) <= 1  # centred by bounding box


# Trousers drawn as one outline: waistband on top, two legs, the space between them open
# at the bottom (canvas coordinates of a 280-pixel canvas, as the app's is).
TROUSERS = [(70, 30), (210, 30), (225, 260), (165, 260), (140, 100), (115, 260), (55, 260)]


@pytest.mark.parametrize("brush", [10, 18])
def test_an_open_shape_is_not_filled(brush):
    """The space between two legs is open at the bottom: it must stay background, not be
    closed over and filled into a block (a pen lifted early is a smaller gap)."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    cv2.polylines(canvas, [np.array(TROUSERS, np.int32)], True, (255, 255, 255, 255), brush)
    filled = sketch_to_input(canvas).steps[1][1]
    height, width = filled.shape
    between_legs = filled[int(height * 0.75) : int(height * 0.95), width // 2]
    assert (between_legs == FILL_LEVEL).mean() < 0.2


def test_an_outline_with_a_small_gap_is_still_filled():
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    cv2.polylines(
        canvas,
        [np.array([(60, 40), (220, 40), (220, 250), (60, 250), (60, 46)], np.int32)],
        False,
        (255, 255, 255, 255),
        14,
    )
    image = sketch_to_input(canvas).image28
    assert image[12:16, 12:16].mean() >= FILL_LEVEL - 10


@pytest.mark.parametrize("channels, background, ink", [(3, 255, 0), (3, 0, 255), (4, 240, 30)])
def test_stroke_colour_does_not_matter(channels, background, ink):
    reference = sketch_to_input(outline(280, 4, 0, 20, alpha_background=0)).image28
    image = sketch_to_input(outline(280, channels, background, ink)).image28
    assert np.abs(image.astype(int) - reference.astype(int)).mean() < 12


def test_any_canvas_size_and_shape():
    tall = np.full((900, 60, 3), 255, np.uint8)
    cv2.line(tall, (30, 50), (30, 850), (0, 0, 0), 8)
    image = sketch_to_input(tall).image28
    rows = np.flatnonzero(image.max(axis=1) > 0)
    assert rows.max() - rows.min() + 1 == 28 and image.max() > 100  # a thin line survives
    small = np.zeros((20, 20, 4), np.uint8)
    small[5:15, 8:12] = (0, 0, 0, 255)
    assert sketch_to_input(small).image28.shape == (28, 28)


def test_steps_are_pictures():
    for title, picture in sketch_to_input(outline(200, 4, 0, 0, 0)).steps:
        assert isinstance(title, str) and picture.dtype == np.uint8 and picture.ndim in (2, 3)


@pytest.mark.parametrize(
    "canvas",
    [
        np.zeros((280, 280, 4), np.uint8),  # transparent, nothing drawn
        np.full((280, 280, 4), 255, np.uint8),  # opaque white
        np.full((100, 100, 3), 30, np.uint8),  # plain dark
    ],
)
def test_empty_canvas_asks_for_a_drawing(canvas):
    with pytest.raises(ImageInputError, match="draw something"):
        sketch_to_input(canvas)


def test_wrong_array_shape_is_a_clear_error():
    with pytest.raises(ImageInputError, match="RGB or RGBA"):
        sketch_to_input(np.zeros((28, 28), np.uint8))
