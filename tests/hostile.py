"""A corpus of hostile, broken and odd image files, made on the spot (nothing checked in).

Used by the decoding tests, the `predict` CLI tests and the browser tests: each case says
whether it is a valid picture (it must get a prediction) or must be refused with a clear
message. The bomb files are small on disk; only a decoder that ignores the pixel limit
would allocate their claimed size.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

EVIL_NAME = "<img src=x onerror=alert(1)> été 衣服.png"


@dataclass(frozen=True)
class HostileCase:
    name: str  # short identifier, safe to use in test ids
    path: Path
    valid: bool  # True: a picture that must be classified; False: must be refused
    what: str  # one line on what the file is


def make_hostile_corpus(folder: Path) -> list[HostileCase]:
    """Write every case into `folder` and describe them; about 1 MB and a second in all."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, filename, valid, what, make in _CASES:
        path = folder / filename
        path.write_bytes(make())
        cases.append(HostileCase(name, path, valid, what))
    return cases


# ------------------------------------------------------------------ building blocks


def garment(width: int = 120, height: int = 160) -> np.ndarray:
    """A T-shirt-like dark-red shape on a light, slightly textured floor (RGB uint8)."""
    import cv2

    rng = np.random.default_rng(0)
    floor = 200 + rng.integers(-12, 12, (height, width, 1))
    image = np.repeat(floor, 3, axis=2).astype(np.uint8)
    sx, sy = width / 120, height / 160
    shape = np.array(
        [(35, 25), (85, 25), (110, 55), (95, 70), (88, 60), (88, 140), (32, 140), (32, 60), (25, 70), (10, 55)],
        np.float64,
    )
    points = (shape * (sx, sy)).round().astype(np.int32)
    cv2.fillPoly(image, [points], (150, 30, 40))
    return image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_with_header(width: int, height: int, idat: bytes, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG whose IHDR says anything at all, with the given compressed pixel data."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def zlib_bomb(megapixels: float = 150.0) -> bytes:
    """A real, fully valid 1-bit PNG of `megapixels` black pixels: about 20 kB on disk."""
    side = int((megapixels * 1e6) ** 0.5)
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    rows_per_chunk = 256
    parts = [compressor.compress(row * rows_per_chunk) for _ in range(side // rows_per_chunk)]
    parts.append(compressor.compress(row * (side % rows_per_chunk)))
    parts.append(compressor.flush())
    return png_with_header(side, side, b"".join(parts), bit_depth=1)


def _rgb(image: np.ndarray | None = None) -> Image.Image:
    return Image.fromarray(garment() if image is None else image)


def _gray() -> Image.Image:
    return _rgb().convert("L")


def _jpeg_bytes() -> bytes:
    return encode(_rgb(), "JPEG", quality=90)


def _png_bytes() -> bytes:
    return encode(_rgb(), "PNG")


def _cut(data: bytes, share: float) -> bytes:
    return data[: int(len(data) * share)]


def _bad_crc() -> bytes:
    data = bytearray(_png_bytes())
    data[29] ^= 0xFF  # last byte of IHDR's CRC
    return bytes(data)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return encode(_rgb(garment(160, 120)), "JPEG", exif=exif)


def _sixteen_bit() -> bytes:
    values = (np.asarray(_gray(), np.uint16) * 257).astype(np.uint16)
    return encode(Image.fromarray(values), "PNG")


def _float_tiff() -> bytes:
    return encode(Image.fromarray(np.asarray(_gray(), np.float32) / 255.0), "TIFF")


def _int32_tiff() -> bytes:
    return encode(Image.fromarray(np.asarray(_gray(), np.int32) * 1000), "TIFF")


def _transparent_garment() -> bytes:
    rgba = np.zeros((160, 120, 4), np.uint8)
    shirt = garment()
    mask = shirt[..., 0] < 180
    rgba[mask, :3], rgba[mask, 3] = shirt[mask], 255
    return encode(Image.fromarray(rgba), "PNG")


def _fully_transparent() -> bytes:
    return encode(Image.new("RGBA", (100, 100), (255, 0, 0, 0)), "PNG")


def _animated_gif() -> bytes:
    frames = [_rgb().convert("P"), Image.new("P", (120, 160), 3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def _fmnist_like() -> bytes:
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 8:20] = 200  # a bright column on black: a dataset-style thumbnail
    return encode(Image.fromarray(image), "PNG")


_SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" '
    b'height="100"><rect width="50" height="80" fill="red"/></svg>\n'
)
_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
_HTML = b"<!DOCTYPE html><html><body><script>alert('x')</script></body></html>"

_CASES: tuple[tuple[str, str, bool, str, Callable[[], bytes]], ...] = (
    # must be refused
    ("empty", "empty.png", False, "zero bytes", lambda: b""),
    ("truncated_jpeg", "truncated.jpg", False, "a JPEG cut in half", lambda: _cut(_jpeg_bytes(), 1 / 2)),
    ("truncated_png", "truncated.png", False, "a PNG cut in its pixel data", lambda: _cut(_png_bytes(), 2 / 3)),
    ("header_only_jpeg", "header_only.jpg", False, "only a JPEG signature", lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF"),
    ("bad_crc", "bad_crc.png", False, "a PNG whose IHDR checksum is wrong", _bad_crc),
    ("html_as_png", "page.png", False, "an HTML page renamed .png", lambda: _HTML),
    ("text_as_jpg", "notes.jpg", False, "plain text renamed .jpg", lambda: b"just some notes, not a picture\n" * 5),
    (
        "random_bytes",
        "random.png",
        False,
        "4 kB of random bytes",
        lambda: np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    ),
    (
        "huge_header",
        "huge_header.png",
        False,
        "a PNG header claiming 60,000 x 60,000",
        lambda: png_with_header(60_000, 60_000, zlib.compress(b"\x00" * 60_001)),
    ),
    ("zlib_bomb", "bomb.png", False, "a valid PNG that decodes to 150 megapixels", zlib_bomb),
    ("one_pixel", "one_pixel.png", False, "1 x 1 pixel", lambda: encode(Image.new("RGB", (1, 1), "red"), "PNG")),
    ("line_1x5000", "line.png", False, "1 x 5000 pixels", lambda: encode(Image.new("L", (1, 5000), 128), "PNG")),
    (
        "extreme_aspect",
        "strip.png",
        False,
        "30 x 1200 pixels (1:40)",
        lambda: encode(Image.new("RGB", (1200, 30), "blue"), "PNG"),
    ),
    ("svg", "drawing.svg", False, "an SVG drawing", lambda: _SVG),
    ("svg_as_png", "drawing.png", False, "an SVG drawing renamed .png", lambda: _SVG),
    ("pdf", "document.pdf", False, "a PDF document", lambda: _PDF),
    ("zip_as_jpg", "archive.jpg", False, "a ZIP archive renamed .jpg", lambda: b"PK\x03\x04" + bytes(200)),
    (
        "heic_like",
        "photo.jpg",
        False,
        "an HEIC-style container renamed .jpg",
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100),
    ),
    ("fully_transparent", "transparent.png", False, "an RGBA PNG with alpha 0 everywhere", _fully_transparent),
    # valid pictures, each in a mode or format that trips naive code
    ("cmyk_jpeg", "cmyk.jpg", True, "a CMYK JPEG", lambda: encode(_rgb().convert("CMYK"), "JPEG")),
    ("png_16bit", "gray16.png", True, "a 16-bit grayscale PNG", _sixteen_bit),
    ("float_tiff", "float.tif", True, "a 32-bit float TIFF (values 0..1)", _float_tiff),
    ("int32_tiff", "int32.tif", True, "a 32-bit integer TIFF (values 0..255000)", _int32_tiff),
    (
        "palette",
        "palette.png",
        True,
        "a palette (P) PNG",
        lambda: encode(_rgb().convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
    ),
    ("bilevel", "bilevel.png", True, "a 1-bit PNG", lambda: encode(_gray().convert("1"), "PNG")),
    ("gray_alpha", "gray_alpha.png", True, "an LA PNG", lambda: encode(_gray().convert("LA"), "PNG")),
    ("transparent_garment", "cutout.png", True, "a garment on a transparent background", _transparent_garment),
    ("animated_gif", "animated.gif", True, "a two-frame GIF (the first frame counts)", _animated_gif),
    ("exif_rotated", "rotated.jpg", True, "a JPEG with EXIF orientation 6", _exif_rotated),
    ("webp", "garment.webp", True, "a WebP", lambda: encode(_rgb(), "WEBP")),
    ("bmp", "garment.bmp", True, "a BMP", lambda: encode(_rgb(), "BMP")),
    ("fmnist_like", "sample28.png", True, "a 28x28 dataset-style thumbnail", _fmnist_like),
    ("evil_name", EVIL_NAME, True, "a valid PNG whose name holds HTML and non-ASCII text", _png_bytes),
)
