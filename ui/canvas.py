"""The drawing canvas behind one function, so tests can replace it with a fixed drawing.

streamlit-drawable-canvas 0.13 draws its own toolbar (undo, redo, clear, pen); its
`image_data` is None until the first stroke. Changing `key` gives a fresh, empty canvas.
The component is imported on first use: it registers itself with the running Streamlit
app, so importing it anywhere else (a test, a script) would fail.
"""

from __future__ import annotations

import numpy as np

CANVAS_SIDE = 280  # ten screen pixels per model pixel


def draw(
    key: str, stroke_width: int, stroke_color: str = "#ffffff", background_color: str = "#000000"
) -> np.ndarray | None:
    """Show the canvas; return what is drawn as RGBA (H, W, 4) uint8, or None if nothing yet."""
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color=stroke_color,
        background_color=background_color,
        height=CANVAS_SIDE,
        width=CANVAS_SIDE,
        drawing_mode="freedraw",
        return_image_data=True,
        key=key,
    )
    return result.image_data
