"""Example photos and drawings a newcomer can classify with one click.

The Classify page otherwise opens empty, and someone without a photo of a garment at hand
has nothing to try. The examples are files in assets/examples/ (CC0 photos and drawings;
its README says where each came from): `photo-*` files go through the photo path,
`drawing-*` files (white strokes on black, as the canvas gives them) through the sketch path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from fmnist_core.paths import EXAMPLES_DIR
from fmnist_core.thumbnail import PipelineResult

STATE_KEY = "classify_example"  # session state: the name of the example last clicked
PER_ROW = 8
THUMBNAIL_SIDE = 96  # pixels: the row stays light, whatever the files' size


@dataclass(frozen=True)
class Example:
    name: str  # file name, e.g. "photo-01-t-shirt.jpg"
    kind: str  # "photo" or "drawing"
    data: bytes  # the file's bytes, as an upload would give them

    @property
    def label(self) -> str:
        """What the button says: "t-shirt", "drawing: ankle boot"."""
        words = Path(self.name).stem.split("-", 2)[-1].replace("_", " ")
        return words if self.kind == "photo" else f"drawing: {words}"


@functools.cache
def load_examples(folder: Path = EXAMPLES_DIR) -> tuple[Example, ...]:
    """Every example in `folder`, photos first, each group in file-name order."""
    found = [
        Example(path.name, kind, path.read_bytes())
        for kind in ("photo", "drawing")
        for path in sorted(folder.glob(f"{kind}-*"))
    ]
    return tuple(found)


@functools.cache
def _thumbnail(example: Example) -> np.ndarray:
    from fmnist_core.image_input import decode_image

    image = decode_image(example.data, example.name).convert("RGB")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return np.asarray(image)


def example_picker(key: str = STATE_KEY) -> Example | None:
    """Draw the examples as a row of thumbnails with a button each; return the example last
    clicked in this session (kept in st.session_state[key] across reruns), or None.

    The caller classifies it with `example_input` and may `st.session_state.pop(key)` when
    the user turns to an upload of their own."""
    examples = load_examples()
    for start in range(0, len(examples), PER_ROW):
        for column, example in zip(st.columns(PER_ROW), examples[start : start + PER_ROW]):
            with column:
                st.image(_thumbnail(example))
                if st.button(example.label, key=f"{key}_{example.name}", width="stretch"):
                    st.session_state[key] = example.name
    chosen = st.session_state.get(key)
    return next((example for example in examples if example.name == chosen), None)


def example_input(example: Example) -> PipelineResult:
    """The model's input for an example: photos through the photo path, drawings through the
    sketch path, exactly as an upload or the canvas would go."""
    from fmnist_core.image_input import decode_image
    from fmnist_core.routing import prepared_input

    return prepared_input(decode_image(example.data, example.name), example.kind == "drawing")
