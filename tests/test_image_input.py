"""Safe decoding: every hostile file refused with a readable message, every odd mode read."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from fmnist_core import image_input
from fmnist_core.errors import ImageInputError
from fmnist_core.image_input import decode_image, read_image_file

from hostile import EVIL_NAME, encode, make_hostile_corpus, png_with_header, zlib_bomb


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_hostile_corpus(tmp_path_factory.mktemp("hostile"))


def test_corpus_is_large_and_mixed(corpus):
    assert len(corpus) >= 25
    assert {case.valid for case in corpus} == {True, False}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_every_case_is_read_or_refused_as_labelled(corpus):
    for case in corpus:
        if case.valid:
            image = read_image_file(case.path)
            assert image.mode in ("RGB", "L"), case.name
            assert image.width * image.height <= image_input.MAX_PIXELS
        else:
            with pytest.raises(ImageInputError) as caught:
                read_image_file(case.path)
            message = str(caught.value)
            assert message.isprintable() and 10 < len(message) < 300, case.name


@pytest.mark.parametrize(
    "filename, words",
    [
        ("document.pdf", ["PDF"]),
        ("drawing.svg", ["SVG"]),
        ("page.png", ["HTML", ".png"]),
        ("random.png", ["not an image"]),
        ("truncated.jpg", ["JPEG", "damaged"]),
        ("bad_crc.png", ["PNG", "damaged"]),
        ("empty.png", ["empty"]),
        ("one_pixel.png", ["1 x 1"]),
        ("photo.jpg", ["HEIC"]),
        ("transparent.png", ["transparent"]),
    ],
)
def test_messages_say_what_the_file_is(corpus, filename, words):
    path = next(case.path for case in corpus if case.path.name == filename)
    with pytest.raises(ImageInputError) as caught:
        read_image_file(path)
    for word in words:
        assert word in str(caught.value)


def test_bombs_are_refused_before_any_pixel_is_decoded(monkeypatch):
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    bomb = zlib_bomb(150.0)
    assert len(bomb) < 100_000  # small on disk, 150 MP once decoded
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageInputError) as caught:
        decode_image(bomb, "bomb.png")
    assert "150 megapixels" in str(caught.value)
    with pytest.raises(ImageInputError, match="megapixels"):
        decode_image(png_with_header(60_000, 60_000, zlib.compress(b"\0" * 100)), "big.png")


def test_byte_limit(monkeypatch):
    monkeypatch.setattr(image_input, "MAX_BYTES", 1000)
    with pytest.raises(ImageInputError, match="limit"):
        decode_image(bytes(2000), "big.png")


def test_exif_orientation_is_applied():
    array = np.zeros((40, 60, 3), np.uint8)
    array[:, 30:] = 255  # left half black, right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # display after rotating 90 degrees clockwise: left half goes on top
    image = decode_image(encode(Image.fromarray(array), "JPEG", exif=exif, quality=95))
    assert image.size == (40, 60)
    gray = np.asarray(image.convert("L")).astype(int)
    assert gray[:25].mean() < 30 and gray[35:].mean() > 225


def test_alpha_goes_on_the_background_farthest_from_the_object():
    for colour, expected_background in ((20, 255), (235, 0)):
        rgba = np.zeros((50, 50, 4), np.uint8)
        rgba[10:40, 15:35] = (colour, colour, colour, 255)
        image = np.asarray(decode_image(encode(Image.fromarray(rgba), "PNG")))
        assert image.shape == (50, 50, 3)
        assert (image[0, 0] == expected_background).all()
        assert abs(int(image[25, 25, 0]) - colour) <= 1


def test_palette_transparency_is_composited():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (10, 10, 30, 30))
    decoded = decode_image(encode(image, "PNG", transparency=0))
    array = np.asarray(decoded)
    assert decoded.mode == "RGB" and tuple(array[20, 20]) == (0, 0, 255)
    assert tuple(array[0, 0]) == (255, 255, 255)  # a dark-blue object goes on white


@pytest.mark.parametrize(
    "values, expected",
    [
        (np.full((20, 20), 65535, np.uint16), 255),
        (np.full((20, 20), 32896, np.uint16), 128),
        (np.full((20, 20), 0.5, np.float32), 128),
    ],
)
def test_deep_modes_keep_their_brightness(values, expected):
    fmt = "PNG" if values.dtype == np.uint16 else "TIFF"
    image = decode_image(encode(Image.fromarray(values), fmt))
    assert image.mode == "L"
    assert abs(int(np.asarray(image)[5, 5]) - expected) <= 1


def test_cmyk_colours_survive():
    red = Image.new("RGB", (30, 30), (200, 30, 30)).convert("CMYK")
    pixel = np.asarray(decode_image(encode(red, "JPEG", quality=95)))[15, 15].astype(int)
    assert pixel[0] > 150 and pixel[1] < 80 and pixel[2] < 80


def test_bilevel_and_gif_first_frame():
    bilevel = Image.new("1", (30, 30), 0)
    bilevel.paste(1, (0, 0, 15, 30))
    array = np.asarray(decode_image(encode(bilevel, "PNG")))
    assert array[5, 5] == 255 and array[5, 25] == 0
    frames = [Image.new("RGB", (30, 30), (250, 250, 250)), Image.new("RGB", (30, 30), (0, 0, 0))]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert np.asarray(decode_image(gif)).mean() > 200


def test_large_jpeg_decodes_at_reduced_size():
    big = Image.new("RGB", (4000, 3000), (120, 60, 30))
    image = decode_image(encode(big, "JPEG", quality=80))
    assert image_input.DRAFT_SIDE <= min(image.size) < 3000
    assert image.size[0] / image.size[1] == pytest.approx(4 / 3, rel=0.01)


def test_files_on_disk(tmp_path):
    with pytest.raises(ImageInputError, match="no such file"):
        read_image_file(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="folder"):
        read_image_file(tmp_path)
    path = tmp_path / EVIL_NAME
    path.write_bytes(encode(Image.new("RGB", (40, 60), "navy"), "PNG"))
    assert read_image_file(path).size == (40, 60)


def test_messages_never_carry_the_bytes():
    payload = b"<script>alert(1)</script>" + bytes(range(256))
    with pytest.raises(ImageInputError) as caught:
        decode_image(payload, "x.png")
    assert "script" not in str(caught.value) and "\x00" not in str(caught.value)


def test_decoded_image_is_independent_of_the_buffer():
    data = io.BytesIO()
    Image.new("RGB", (30, 30), "green").save(data, "PNG")
    image = decode_image(data.getvalue())
    data.close()
    assert image.getpixel((1, 1)) == (0, 128, 0)


def test_endless_device_is_read_only_up_to_the_limit(monkeypatch):
    monkeypatch.setattr(image_input, "MAX_BYTES", 10_000)
    with pytest.raises(ImageInputError, match="larger than the limit"):
        read_image_file("/dev/zero")
