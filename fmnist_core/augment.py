"""Training-time augmentation in NumPy, applied per batch outside the model (Keras
preprocessing layers were slower on this CPU); `training.endless_batches` feeds it to fit.
Two groups of changes:
- geometric: mirror, small shifts, scale jitter, random erasing (garments are nearly
  left-right symmetric and thumbnails are centred by bounding box, so all stay small);
- photometric ("photo"): what the app's photo pipeline makes of a real phone photo
  (segmented garment, bright on black, contrast stretched): gamma and contrast changes, a
  hard mask edge that cuts the dim parts, blur, noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augmentation:
    flip: bool = False  # mirror half the images left-right
    shift: int = 0  # largest shift in pixels, each axis
    scale: float = 0.0  # largest relative zoom in or out
    erase: float = 0.0  # probability of blanking a random rectangle with noise
    photo: float = 0.0  # probability of photo-pipeline photometric changes

    @property
    def active(self) -> bool:
        return self.flip or self.shift > 0 or self.scale > 0 or self.erase > 0 or self.photo > 0

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(N, 28, 28) in 0..255 -> altered float32 copy in 0..255."""
        x = np.array(images, dtype=np.float32)
        if self.flip:
            mirror = rng.random(len(x)) < 0.5
            x[mirror] = x[mirror, :, ::-1]
        if self.shift or self.scale:
            x = _affine(x, rng, self.shift, self.scale)
        if self.photo:
            x = _photometric(x, rng, self.photo)
        if self.erase:
            x = _erase(x, rng, self.erase)
        return x


AUGMENTATIONS: dict[str, Augmentation] = {
    "none": Augmentation(),
    # What the standard preset trains with: at 12-14 epochs, shifts and erasing cost a small
    # CNN more than they taught it.
    "flip": Augmentation(flip=True),
    "basic": Augmentation(flip=True, shift=2, scale=0.08, erase=0.5),
    "photo": Augmentation(flip=True, shift=2, scale=0.08, erase=0.4, photo=0.3),
    # What the bundled model trains with: stronger settings cost it test accuracy in 20 epochs.
    "light": Augmentation(flip=True, shift=2, scale=0.05, erase=0.2, photo=0.1),
}


def augmentation_name(augmentation: Augmentation) -> str:
    """The name of a configuration's augmentation in AUGMENTATIONS ("none" for one not there)."""
    return next((name for name, value in AUGMENTATIONS.items() if value == augmentation), "none")


def shifted(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(N, 28, 28) images moved by whole pixels (dx right, dy down), filled with black."""
    pad = max(abs(dx), abs(dy))
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    moved = np.roll(padded, (dy, dx), axis=(1, 2))
    return moved[:, pad : pad + images.shape[1], pad : pad + images.shape[2]]


def _affine(x: np.ndarray, rng: np.random.Generator, shift: int, scale: float) -> np.ndarray:
    n = len(x)
    zoom = rng.uniform(1 - scale, 1 + scale, n)
    dx, dy = rng.uniform(-shift, shift, (2, n))
    out = np.empty_like(x)
    for i in range(n):
        matrix = cv2.getRotationMatrix2D((13.5, 13.5), 0.0, float(zoom[i]))
        matrix[:, 2] += (dx[i], dy[i])
        out[i] = cv2.warpAffine(
            x[i], matrix, (28, 28), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
    return out


def _photometric(x: np.ndarray, rng: np.random.Generator, probability: float) -> np.ndarray:
    chosen = np.flatnonzero(rng.random(len(x)) < probability)
    if not len(chosen):
        return x
    n = len(chosen)
    part = x[chosen] / 255.0
    # A segmentation mask cuts the dimmest garment pixels to black.
    cutoff = rng.uniform(0.0, 0.15, (n, 1, 1))
    part = np.where(part < cutoff, 0.0, part)
    # Contrast stretching then a gamma: the pipeline maps the garment onto the full range.
    peak = part.reshape(n, -1).max(axis=1).reshape(n, 1, 1)
    part = part / np.maximum(peak, 1e-3) * rng.uniform(0.75, 1.0, (n, 1, 1))
    part = part ** rng.uniform(0.6, 1.6, (n, 1, 1))
    part = part * 255.0
    blurred = rng.random(n) < 0.3
    for i in np.flatnonzero(blurred):
        part[i] = cv2.GaussianBlur(part[i], (3, 3), float(rng.uniform(0.5, 1.0)))
    noise = rng.normal(0.0, 1.0, part.shape) * rng.uniform(0.0, 10.0, (n, 1, 1))
    x[chosen] = np.clip(part + noise * (part > 0), 0.0, 255.0)
    return x


def _erase(x: np.ndarray, rng: np.random.Generator, probability: float) -> np.ndarray:
    """Random erasing (Zhong et al. 2017): a rectangle of 2-20% of the image filled with noise."""
    n = len(x)
    area = rng.uniform(0.02, 0.2, n) * 28 * 28
    ratio = np.exp(rng.uniform(math.log(0.3), math.log(3.3), n))
    height = np.clip(np.sqrt(area * ratio), 1, 27).astype(int)
    width = np.clip(np.sqrt(area / ratio), 1, 27).astype(int)
    top = (rng.random(n) * (28 - height)).astype(int)
    left = (rng.random(n) * (28 - width)).astype(int)
    rows = np.arange(28)[None, :, None]
    cols = np.arange(28)[None, None, :]
    inside = (
        (rows >= top[:, None, None])
        & (rows < (top + height)[:, None, None])
        & (cols >= left[:, None, None])
        & (cols < (left + width)[:, None, None])
        & (rng.random(n) < probability)[:, None, None]
    )
    return np.where(inside, rng.uniform(0, 255, x.shape).astype(np.float32), x)
