"""Garments worn by people, cut out by their pixel labels -> 28x28 inputs with a class.

Shops show clothes on models, and people photograph what they wear; the flat-lay photos
the photo model is mostly fitted on never show that. ../shared/photos/worn holds street
photos with a label for every pixel (Clothing Co-Parsing, Apache-2.0), so each garment
there can be cut out exactly (its own pixels, not the person) and laid out like the
dataset: what a worn garment looks like once found. Hats, shorts and skirts come out as
garments with no Fashion-MNIST class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_core.errors import FmnistError

# Label names of ../shared/photos/worn/labels.json per Fashion-MNIST class (its README);
# -1: a garment with no class.
CLASS_OF_LABEL = {
    "t-shirt": 0,
    "top": 0,
    "pants": 1,
    "jeans": 1,
    "leggings": 1,
    "sweater": 2,
    "jumper": 2,
    "hoodie": 2,
    "sweatshirt": 2,
    "cardigan": 2,
    "dress": 3,
    "coat": 4,
    "jacket": 4,
    "blazer": 4,
    "sandals": 5,
    "shirt": 6,
    "blouse": 6,
    "sneakers": 7,
    "bag": 8,
    "purse": 8,
    "boots": 9,
    "hat": -1,
    "shorts": -1,
    "skirt": -1,
}
MIN_SHARE = 0.004  # of the photo: smaller garments (a glimpse of a sleeve) are skipped
MIN_SIDE = 12  # pixels of the garment's box, for the same reason


class WornSetError(FmnistError):
    """A folder of worn photos that cannot be used, explained for a person."""


@dataclass
class WornSet:
    images: np.ndarray  # (N, 28, 28) uint8, one garment each
    labels: np.ndarray  # (N,) Fashion-MNIST class, -1 where none fits
    photos: int  # photos they were cut from


def load_worn_set(folder: Path) -> WornSet:
    """Every labelled garment of folder/images/*.jpg with folder/masks/*.png, one image per
    garment group (a class, or hat, shorts, skirt) large enough to be seen."""
    from PIL import Image

    folder = Path(folder)
    try:
        names = {name: int(number) for number, name in json.loads((folder / "labels.json").read_text()).items()}
    except (OSError, ValueError) as exc:
        raise WornSetError(f"{folder} has no readable labels.json ({exc})") from exc
    groups: dict[str, list[int]] = {}
    for name, label in CLASS_OF_LABEL.items():
        if name in names:  # shorts, skirts and hats each a group: not one "no class" blob
            groups.setdefault(name if label < 0 else str(label), []).append(names[name])
    images, labels, photos = [], [], 0
    for path in sorted((folder / "images").glob("*.jpg")):
        mask_path = folder / "masks" / f"{path.stem}.png"
        if not mask_path.is_file():
            continue
        with Image.open(path) as photo, Image.open(mask_path) as mask_image:
            rgb, mask = np.asarray(photo.convert("RGB")), np.asarray(mask_image)
        if mask.shape != rgb.shape[:2]:
            continue
        photos += 1
        for group, numbers in groups.items():
            garment = cut_out(rgb, np.isin(mask, numbers))
            if garment is not None:
                images.append(garment)
                labels.append(CLASS_OF_LABEL[group] if not group.isdigit() else int(group))
    if not images:
        raise WornSetError(f"{folder} has no photos with masks (images/NNNN.jpg, masks/NNNN.png)")
    return WornSet(np.stack(images), np.array(labels), photos)


def cut_out(rgb: np.ndarray, garment: np.ndarray) -> np.ndarray | None:
    """The garment's pixels as the photo path renders a segmented garment, at 28x28; None
    when it is too small to be seen."""
    from fmnist_core.photo import render_garment
    from fmnist_core.thumbnail import fit_to_side

    if garment.mean() < MIN_SHARE:
        return None
    rows, cols = np.nonzero(garment)
    if min(np.ptp(rows), np.ptp(cols)) < MIN_SIDE:
        return None
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    return fit_to_side(render_garment(rgb[box], garment[box].astype(np.uint8)))
