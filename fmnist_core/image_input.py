"""The one door for image bytes (uploads, files, canvas PNGs): checked before decoding.

Hostile files are the normal case for an upload box, so every limit is checked on the
header, before Pillow allocates pixels: a 60,000 x 60,000 header or a zlib bomb is refused
for what it claims to be. Whatever Pillow cannot read becomes an ImageInputError that says
what the file looks like instead, never a traceback and never the raw bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fmnist_core.errors import ImageInputError, ImageTooLargeError, UnsupportedImageError

MAX_BYTES = 50 * 1024 * 1024  # far above any phone photo, far below what hurts memory
MAX_PIXELS = 40_000_000  # decoded size; RGB at this size is 120 MB
MIN_SIDE = 8  # below this no garment can be seen
MAX_ASPECT = 20.0  # long side / short side; trousers are about 3
DRAFT_SIDE = 600  # JPEGs decode (at 1/2, 1/4 or 1/8 scale) to no less than this short side
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG covers MPO (some phones)
SUPPORTED = "PNG, JPEG, WebP, GIF, BMP or TIFF"
# File name endings of those formats, for upload widgets and folders of photos.
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")

# Leading bytes of things people upload by mistake, to say what the file looks like.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or an Office document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"GIF8", "a GIF image"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"8BPS", "a Photoshop document"),
    (b"\x00\x00\x01\x00", "a Windows icon"),
)
_IMAGE_KINDS = {"a PNG image", "a JPEG image", "a GIF image", "a BMP image", "a TIFF image", "a WebP image"}


def decode_image(data: bytes, name: str = "") -> Image.Image:
    """Bytes -> an upright RGB or L image, or ImageInputError with a message for a person."""
    if not data:
        raise ImageInputError("the file is empty")
    if len(data) > MAX_BYTES:
        raise ImageTooLargeError(f"the file is larger than the limit of {MAX_BYTES // 2**20} MB")
    image = _open(data, name)
    _check_size(image.size)
    try:
        image.seek(0)  # the first frame of an animation or the first page of a TIFF
        image.load()
        image = ImageOps.exif_transpose(image) or image
        return _normalise(image)
    except ImageInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise many types on hostile bytes
        raise ImageInputError(
            f"this file looks like {_looks_like(data)} but it is damaged or cut short "
            f"and cannot be decoded ({_reason(exc)})"
        ) from None


def read_image_file(path: str | Path) -> Image.Image:
    """A file on disk through decode_image; never reads more than MAX_BYTES (think /dev/zero)."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ImageInputError("this is a folder, not an image file")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ImageInputError("no such file") from None
    except PermissionError:
        raise ImageInputError("permission denied: the file cannot be read") from None
    except OSError as exc:
        raise ImageInputError(f"the file cannot be read ({exc.strerror or exc})") from None
    return decode_image(data, path.name)


def _open(data: bytes, name: str) -> Image.Image:
    """Parse the header only; JPEGs also pick their reduced decoding scale here."""
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise ImageTooLargeError(
            f"this image claims more than {MAX_PIXELS // 1_000_000} megapixels; refused "
            "before decoding (it may be a decompression bomb)"
        ) from None
    except Exception:  # noqa: BLE001 - UnidentifiedImageError, SyntaxError, struct.error...
        kind = _looks_like(data)
        if kind in _IMAGE_KINDS:
            raise ImageInputError(f"this file looks like {kind} but it is damaged and cannot be read") from None
        raise UnsupportedImageError(
            f"this file is not an image we can read (it looks like {kind}"
            f"{_despite_name(name)}); please use a {SUPPORTED} image"
        ) from None
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", (DRAFT_SIDE, DRAFT_SIDE))
    return image


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(
            f"this image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {MAX_PIXELS // 1_000_000} megapixels, so it was refused before "
            "decoding"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(f"this image is only {width} x {height} pixels: too small to show a garment")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise ImageInputError(f"this image is {width} x {height} pixels: too long and thin to show a garment")


def _normalise(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB (colour) or L (grayscale), transparency composited."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("I", "F") or mode.startswith("I;"):
        image = Image.fromarray(_to_uint8(np.asarray(image)), "L")
    elif mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
    if image.mode == "RGBA" or (image.mode in ("L", "RGB") and "transparency" in image.info):
        image = _flatten(image.convert("RGBA"))
    return image


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """16-bit, 32-bit and float pixels -> 0..255, keeping the image's own range."""
    array = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if values.dtype.kind == "u" and values.dtype.itemsize == 2:
        return (array / 257.0).round().astype(np.uint8)
    low, high = float(array.min()), float(array.max())
    if values.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        return (array * 255.0).round().astype(np.uint8)
    if low >= 0.0 and high <= 255.0:
        return array.round().astype(np.uint8)
    scale = 255.0 / (high - low) if high > low else 0.0
    return ((array - low) * scale).round().astype(np.uint8)


def _flatten(rgba: Image.Image) -> Image.Image:
    """Composite onto the grey level farthest from the visible object, so it stays separable.

    A transparent background means "nothing", so it must not look like the garment: a
    dark garment goes on white, a light one on black.
    """
    array = np.asarray(rgba)
    alpha = array[..., 3].astype(np.float32) / 255.0
    if not (alpha > 0.02).any():
        raise ImageInputError("this image is fully transparent: there is nothing to see")
    visible = array[..., :3][alpha > 0.5] if (alpha > 0.5).any() else array[..., :3][alpha > 0]
    background = 0.0 if visible.mean() > 127 else 255.0
    rgb = array[..., :3] * alpha[..., None] + background * (1.0 - alpha[..., None])
    return Image.fromarray(rgb.round().astype(np.uint8), "RGB")


def _looks_like(data: bytes) -> str:
    """A short, human description of what the bytes seem to be (never the bytes)."""
    head = data[:1024]
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "a HEIC photo: export it as JPEG"
        if brand in (b"avif", b"avis"):
            return "an AVIF image: export it as JPEG"
        return "a video or MP4 file"
    text = _as_text(head)
    if text is not None:
        lowered = text.lstrip("\ufeff \t\r\n").lower()
        if "<svg" in lowered:
            return "an SVG drawing, a vector format: export it as PNG"
        if lowered.startswith(("<!doctype html", "<html")) or "<body" in lowered:
            return "an HTML page"
        if lowered.startswith("<?xml"):
            return "an XML document"
        return "plain text"
    return "random or unknown data"


def _despite_name(name: str) -> str:
    """', although its name ends in .png' when the name promises an image."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f", although its name ends in {suffix}" if suffix in SUFFIXES else ""


def _as_text(head: bytes) -> str | None:
    """The head as text if it is mostly printable UTF-8 (a cut multi-byte end is allowed)."""
    for cut in range(4):
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return text if text and printable >= 0.95 * len(text) else None


def _reason(exc: Exception) -> str:
    """The decoder's own words, cut short, with anything non-printable removed."""
    message = str(exc) or type(exc).__name__
    cleaned = "".join(ch for ch in message if ch.isprintable())
    return cleaned[:80]
