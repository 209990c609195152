"""Showing 28x28 images: crisp upscaling, thumbnail grids with click-to-enlarge, a big view."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import streamlit as st

from ui.charts import image_figure

THUMBNAIL_SCALE = 3  # 28 -> 84 pixels: small enough for 10 per row, large enough to read


def pixelated(image: np.ndarray, scale: int = THUMBNAIL_SCALE) -> np.ndarray:
    """Upscale by repeating pixels, so the browser shows sharp squares instead of a blur."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)


def squared(image: np.ndarray) -> np.ndarray:
    """Pad the short side with black, centred, so pictures of any shape line up in a row."""
    array = np.asarray(image)
    height, width = array.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    padding = [(top, side - height - top), (left, side - width - left)]
    return np.pad(array, padding + [(0, 0)] * (array.ndim - 2))


def enlarged_image_dialog(
    images: np.ndarray,
    captions: Sequence[str],
    details: Sequence[str],
    position: int,
    key: str,
    explain: Callable[[int], None] | None = None,
) -> None:
    """Open image `position` of a grid large, in a dialog titled with what it is (the first
    part of its details, "Test set, image 12"; "Image" when there are none)."""
    detail = details[position] if details else ""
    heading = detail.split(" · ", 1)[0].split(":", 1)[0] if detail else "Image"
    st.dialog(heading, width="large")(_enlarged)(images, captions, detail, position, key, explain)


def _enlarged(
    images: np.ndarray,
    captions: Sequence[str],
    detail: str,
    position: int,
    key: str,
    explain: Callable[[int], None] | None,
) -> None:
    """The image as a large pixel map whose hover shows every pixel's value, beside it
    whatever `explain` draws (the model's view of this image), and Previous / Next through
    the grid. A step reruns the page, which opens the dialog again on the neighbour, so that
    the title names the image shown."""
    if st.session_state.get(f"{key}_zoom", position) != position:
        st.rerun()  # a step was asked for: the whole page, so that the grid opens it
    with st.container(horizontal=True, vertical_alignment="center"):
        for label, icon, step, disabled in (
            ("Previous", ":material/chevron_left:", -1, position == 0),
            ("Next", ":material/chevron_right:", 1, position == len(images) - 1),
        ):
            st.button(
                label,
                icon=icon,
                key=f"{key}_zoom_{label.lower()}",
                disabled=disabled,
                on_click=_zoom_to,
                args=(key, position + step),
            )
        st.caption(f"{position + 1} of {len(images)}")
    st.markdown(f"**{captions[position]}**")
    if detail:
        st.caption(detail)
    image_col, explain_col = st.columns(2) if explain else (st.container(), None)
    image_col.plotly_chart(image_figure(images[position], size=380), config={"displayModeBar": False})
    if explain is not None and explain_col is not None:
        with explain_col:
            explain(position)


def _zoom_to(key: str, position: int) -> None:
    """Previous / Next in the dialog: the grid opens `position` on the next page run."""
    st.session_state[f"{key}_zoom"] = position


def image_grid(
    images: np.ndarray,
    captions: Sequence[str],
    key: str,
    columns: int = 8,
    details: Sequence[str] | None = None,
    scale: int = THUMBNAIL_SCALE,
    explain: Callable[[int], None] | None = None,
) -> None:
    """Thumbnails in rows of `columns`; the 🔍 under each opens it large in a dialog, with
    `explain(position)` drawn beside it when given, and Previous / Next through the grid.

    `key` makes the buttons' keys unique when several grids share a page.
    """
    opened = st.session_state.pop(f"{key}_zoom", None)  # a step in the dialog
    for row_start in range(0, len(images), columns):
        cells = st.columns(columns)
        for offset, cell in enumerate(cells):
            position = row_start + offset
            if position >= len(images):
                break
            with cell, st.container(gap=None):  # image, button and caption close together
                # Button before caption: captions differ in length, images and buttons
                # do not, so the buttons line up.
                st.image(pixelated(images[position], scale))
                if st.button(":material/zoom_in:", key=f"{key}_enlarge_{position}", help="Enlarge", type="tertiary"):
                    opened = position
                st.caption(captions[position])
    if opened is not None and 0 <= opened < len(images):
        enlarged_image_dialog(images, captions, details or [], opened, key, explain)


def thumbnail_strip(images: np.ndarray, captions: Sequence[str], scale: int = THUMBNAIL_SCALE) -> None:
    """Images in one flowing row with captions and no buttons: cheap to redraw every second.

    A fixed width: otherwise a long caption ("❌ Shirt (is Coat)") stretches its image."""
    thumbnails = [pixelated(image, scale) for image in images]
    width: int | Literal["content"] = int(thumbnails[0].shape[1]) if thumbnails else "content"
    st.image(thumbnails, caption=list(captions), width=width)


def inline_strip(images: np.ndarray, captions: Sequence[str], scale: int = THUMBNAIL_SCALE) -> None:
    """Like thumbnail_strip, but with the pictures inside the page (PNG data URIs), for a
    view redrawn every second: st.image serves each picture at a /media/ URL that the next
    redraw withdraws, so the browser, still fetching the last redraw's pictures, got 404s
    and at times showed none."""
    size = 28 * scale
    figures = "".join(
        f'<figure style="margin:0;width:{size}px;text-align:center">{_img_tag(image, scale, caption)}'
        f'<figcaption style="font-size:0.75rem;line-height:1.2;opacity:0.7">'
        f"{html.escape(caption)}</figcaption></figure>"
        for image, caption in zip(images, captions)
    )
    st.html(f'<div style="display:flex;flex-wrap:wrap;gap:0.5rem 1rem">{figures}</div>')


def labelled_rows(rows: np.ndarray, labels: Sequence[str], scale: int = 2) -> None:
    """Rows of thumbnails, each led by its label: `rows` is (R, N, 28, 28). One element with
    the pictures inside, where a column and a picture each would make the page (the Home
    page's 80 samples) 90 columns, 80 elements and 80 requests for the browser to draw."""
    st.html(_labelled_rows_html(rows, tuple(labels), scale))


@st.cache_data(show_spinner=False, max_entries=4)
def _labelled_rows_html(rows: np.ndarray, labels: tuple[str, ...], scale: int) -> str:
    lines = "".join(
        f'<div style="display:flex;align-items:center;gap:0.5rem;margin-bottom:0.35rem">'
        f'<strong style="flex:0 0 9.5rem">{html.escape(label)}</strong>'
        + "".join(_img_tag(image, scale, label) for image in row)
        + "</div>"
        for row, label in zip(rows, labels)
    )
    return f'<div style="overflow-x:auto">{lines}</div>'


def _img_tag(image: np.ndarray, scale: int, alt: str) -> str:
    """A 28x28 image as an <img> with its PNG inside, shown `scale` times larger, crisp."""
    size = 28 * scale
    return (
        f'<img src="data:image/png;base64,{_png_base64(image)}" width="{size}" height="{size}" '
        f'alt="{html.escape(alt)}" style="image-rendering:pixelated;display:block;max-width:100%;height:auto">'
    )


def _png_base64(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
