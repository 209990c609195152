"""A phone photo of a garment on a real background -> the 28x28 input the model knows.

Fashion-MNIST was made from product shots on white: trimmed to the object, long side to
28, negated, grayscale (the Fashion-MNIST README). A photo on a bed or a floor must first
lose its background, or the model sees a bright rectangle and says "Bag". The garment is
separated with GrabCut, started not from a blind rectangle but from what the border says
the background looks like, then laid out like the dataset.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from fmnist_core.thumbnail import SIDE, PipelineResult, fit_to_side

WORK_SIDE = 160  # long side GrabCut works at: enough for a garment's outline, fast
BORDER = 0.06  # share of each side sampled as "background as the photographer framed it"
BACKGROUND_COLOURS = 4  # k-means clusters over the border: beds and carpets have patterns
GRABCUT_ITERATIONS = 4
BACKGROUND_MATCH = 25  # interior pixels closer to the border colours than this percentile
# of the border's own distances start as "probably background" (gaps between legs, shoes)
FRAME_TOUCH = 3.0  # border pixels this many times farther than the border's usual spread
# from its colours start as "probably garment": a sleeve or a hem touching the frame
MIN_AREA = 0.03  # a garment smaller than this share of the photo is a failed separation
KEEP_SECOND = 0.25  # a second part this large relative to the first is kept (pairs of shoes)
GARMENT_FLOOR = 30  # darkest garment level: above the black background, as in the dataset
STRETCH_PERCENTILES = (2, 98)
MIN_RANGE = 60.0  # grey levels: less texture than this is not stretched up to full contrast


def prepare(image: Image.Image) -> PipelineResult:
    """Any decoded image -> model input: Fashion-MNIST look-alikes unchanged, else a photo."""
    if looks_like_fmnist(image):
        gray = np.asarray(image.convert("L"))
        image28 = gray if gray.shape == (SIDE, SIDE) else fit_to_side(gray)
        return PipelineResult(image28, [("as given", gray), ("model input 28x28", image28)], "fmnist")
    return photo_to_input(image)


def looks_like_fmnist(image: Image.Image) -> bool:
    """Small, grayscale, dark border: already the dataset's format (e.g. a saved sample)."""
    if max(image.size) > 2 * SIDE:
        return False
    rgb = np.asarray(image.convert("RGB")).astype(np.int16)
    if np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max() > 12:
        return False
    gray = rgb[..., 0]
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(border)) < 40


def photo_to_input(image: Image.Image) -> PipelineResult:
    """Colour photo -> segmented, cropped, negated garment at 28x28, with each step."""
    import cv2

    # k-means over the border colours and GrabCut's own start from random centres drawn
    # from OpenCV's per-thread generator: seeded, the same photo always gives the same input.
    cv2.setRNGSeed(0)
    rgb = np.asarray(image.convert("RGB"))
    scale = WORK_SIDE / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    work = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
    steps: list[tuple[str, np.ndarray]] = [("photo", work)]

    seed = background_seed(work)
    steps.append(("how unlike the border each pixel is", seed.distance_view))
    mask = segment(work, seed)
    steps.append(("garment mask", mask * np.uint8(255)))
    garment = render_garment(work, mask)
    steps.append(("grayscale, negated, background removed", garment))
    image28 = fit_to_side(garment)
    steps.append(("model input 28x28", image28))
    return PipelineResult(image28, steps, "photo")


class _Seed:
    """GrabCut's starting labels, and the distance map they came from (for display)."""

    def __init__(self, labels: np.ndarray, distance: np.ndarray) -> None:
        self.labels = labels
        top = float(np.percentile(distance, 99)) or 1.0
        self.distance_view = np.clip(distance / top * 255, 0, 255).astype(np.uint8)


def background_seed(work: np.ndarray) -> _Seed:
    """GrabCut's starting labels from the border's colours (k-means in Lab space).

    People frame a garment with background around it, so the border band is background,
    except pixels there clearly unlike it (a garment touching the frame); inside, pixels
    that match the border's colours start as probable background.
    """
    import cv2

    height, width = work.shape[:2]
    lab = cv2.cvtColor(work, cv2.COLOR_RGB2LAB).astype(np.float32)
    band_h, band_w = max(1, round(height * BORDER)), max(1, round(width * BORDER))
    border = np.zeros((height, width), bool)
    border[:band_h], border[-band_h:], border[:, :band_w], border[:, -band_w:] = (True, True, True, True)
    samples = lab[border].reshape(-1, 3)
    k = min(BACKGROUND_COLOURS, len(samples))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    # OpenCV's stubs make bestLabels required; None (no starting labels) is what its docs allow.
    _, assigned, centres = cv2.kmeans(  # type: ignore[call-overload]
        samples, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS
    )
    # Clusters holding few border pixels are more likely a garment touching the frame.
    share = np.bincount(assigned.ravel(), minlength=k) / len(samples)
    centres = centres[share >= 0.1]
    distance = np.min(np.linalg.norm(lab[..., None, :] - centres[None, None], axis=-1), axis=-1)
    # GrabCut from the central rectangle (everything inside "probably garment", the border
    # band background), corrected by what the border's colours say.
    border_distance = distance[border]
    labels = np.full((height, width), cv2.GC_PR_FGD, np.uint8)
    labels[distance <= np.percentile(border_distance, BACKGROUND_MATCH)] = cv2.GC_PR_BGD
    labels[border] = cv2.GC_BGD
    spread = float(np.percentile(border_distance, 75)) + 4.0  # how much the background varies
    labels[border & (distance > FRAME_TOUCH * spread)] = cv2.GC_PR_FGD
    return _Seed(labels, distance)


def segment(work: np.ndarray, seed: _Seed) -> np.ndarray:
    """GrabCut from the seed, then keep the garment: its largest parts, holes filled."""
    import cv2
    from scipy import ndimage

    labels = seed.labels.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(work[..., ::-1])
    try:
        # No rectangle: the stubs want one, but GC_INIT_WITH_MASK starts from the mask alone.
        cv2.grabCut(
            bgr,
            labels,
            None,
            bgd,
            fgd,  # type: ignore[call-overload]
            GRABCUT_ITERATIONS,
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error:  # one of the two GMMs had no samples: keep the seed as it is
        pass
    mask = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    mask = ndimage.binary_opening(mask, np.ones((3, 3), bool))
    if mask.mean() < MIN_AREA:  # GrabCut took everything for background: the garment
        mask = seed.labels != cv2.GC_BGD  # likely fills the frame, so keep the frame
    if not mask.any():  # a picture too small for a border band
        mask = np.ones_like(mask)
    count, components, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= KEEP_SECOND * areas.max())
    mask = np.isin(components, keep)
    return ndimage.binary_fill_holes(mask).astype(np.uint8)


def render_garment(work: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Negated grayscale inside the mask, stretched to the garment's own range, black outside.

    Negation matches how the dataset was made (dark cloth on white became bright on
    black); stretching per garment puts a white shirt and a navy coat in the same range,
    as the dataset's contrast does. Percentiles, not extremes, so a logo cannot set it.
    """
    import cv2

    negated = 255.0 - cv2.cvtColor(work, cv2.COLOR_RGB2GRAY).astype(np.float32)
    inside = mask.astype(bool)
    low, high = np.percentile(negated[inside], STRETCH_PERCENTILES)
    # Anchored at the top: a plain garment (no range to stretch) comes out bright, not grey.
    levels = 255 - (high - negated) / max(high - low, MIN_RANGE) * (255 - GARMENT_FLOOR)
    return np.where(inside, np.clip(levels, GARMENT_FLOOR, 255), 0).astype(np.uint8)
