"""service.imaging: real MNIST digits survive a round trip through image files; every bad upload is an ImageError."""
import io
import os

import numpy as np
import pytest
from PIL import Image

from service.imaging import MAX_PIXELS, ImageError, decode_image
from tests.service.conftest import png_header_only

INDICES = [0, 1, 2, 3, 4, 7, 11, 18]  # a spread of classes from the test split


@pytest.fixture(scope="module")
def digits(data_dir) -> list[np.ndarray]:
    """A few canonical MNIST test digits, uint8 [28, 28], white on black."""
    from models.data import load_mnist

    images, _ = load_mnist("test", data_dir)
    return [images[i] for i in INDICES]


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def on_canvas(digit: np.ndarray, scale: int = 9, canvas=(380, 500), at=(60, 230)) -> np.ndarray:
    """The digit enlarged `scale`× (bilinear) and pasted off-centre into a bigger black canvas: uint8 [H, W]."""
    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR))
    out = np.zeros(canvas, dtype=np.uint8)
    out[at[0]:at[0] + big.shape[0], at[1]:at[1] + big.shape[1]] = big
    return out


def renderings(digit: np.ndarray) -> dict[str, bytes]:
    ink = on_canvas(digit)
    black_on_white = Image.fromarray(255 - ink)
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    rgba[..., 3] = ink  # black strokes on a transparent canvas, as a browser <canvas> exports them
    white_rgba = rgba.copy()
    white_rgba[..., :3] = 255  # white strokes on transparent: invisible if flattened on white
    return {
        "png_black_on_white": encode(black_on_white, "PNG"),
        "png_rgb": encode(black_on_white.convert("RGB"), "PNG"),
        "png_rgba_transparent": encode(Image.fromarray(rgba), "PNG"),
        "png_rgba_white_strokes": encode(Image.fromarray(white_rgba), "PNG"),
        "png_28_original": encode(Image.fromarray(digit), "PNG"),
        "jpeg": encode(black_on_white.convert("RGB"), "JPEG", quality=85),
        "gif": encode(black_on_white, "GIF"),
        "bmp": encode(black_on_white, "BMP"),
        "webp": encode(black_on_white, "WEBP", quality=90),
    }


def test_round_trip_matches_canonical_digit(digits):
    for digit in digits:
        canonical = digit.astype(np.float32) / 255.0
        for name, data in renderings(digit).items():
            out = decode_image(data)
            assert out.shape == (28, 28) and out.dtype == np.float32, name
            assert out.min() >= 0.0 and out.max() <= 1.0, name
            assert corr(out, canonical) > 0.8, f"{name}: correlation {corr(out, canonical):.3f}"


def test_output_is_centred_and_fits_20px(digits):
    coms = []
    for digit in digits:
        out = decode_image(renderings(digit)["png_black_on_white"])
        rows, cols = np.nonzero(out > 0.05)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21  # 20 px box, plus Lanczos' faint fringe
        r = np.arange(28)
        coms.append(((out.sum(1) @ r) / out.sum(), (out.sum(0) @ r) / out.sum()))
    # The digit is placed at a whole-pixel offset, so each centre of mass is within 0.5 px of (14, 14); over eight
    # digits the rounding averages out. A centre of 13 or 13.5 fails both (checked by changing imaging.CENTRE).
    coms = np.array(coms)
    assert np.all(np.abs(coms - 14) <= 0.5), coms.round(2).tolist()
    assert np.allclose(coms.mean(axis=0), 14, atol=0.25), coms.mean(axis=0)


def test_gray_paper_and_low_contrast_photo(digits):
    ink = on_canvas(digits[2]).astype(np.float32) / 255.0
    photo = (180 - 100 * ink).astype(np.uint8)  # dark-gray pen on light-gray paper
    out = decode_image(encode(Image.fromarray(photo), "JPEG", quality=70))
    assert corr(out, digits[2] / 255.0) > 0.8


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"hello, this is not an image at all", "unrecognised image format"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "unrecognised image format"),  # EPS never opened
])
def test_rejects_non_images(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_rejects_truncated_and_corrupt(digits):
    png = encode(Image.fromarray(on_canvas(digits[0])), "PNG")
    jpeg = encode(Image.fromarray(on_canvas(digits[0])), "JPEG")
    bad = [png[: len(png) // 2], jpeg[: len(jpeg) // 2], png[:40],
           png[:60] + bytes(200) + png[260:],  # zeroed bytes inside the compressed data
           png[:33] + b"\x00\x00\x10\x00IDAT" + os.urandom(4096)]
    for data in bad:
        with pytest.raises(ImageError, match=r"corrupt|truncated"):
            decode_image(data)


@pytest.mark.parametrize("side", [4097, 50_000])  # just over our limit; far over Pillow's own bomb limit
def test_rejects_decompression_bombs_before_decoding(side):
    assert side * side > MAX_PIXELS
    # hardly any pixel data follows the header: had it tried to decode, the error would be "corrupt/truncated"
    with pytest.raises(ImageError, match="too large"):
        decode_image(png_header_only(side, side))
    assert Image.MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3  # Pillow's global default left alone


def test_real_bomb_file_is_rejected():
    data = encode(Image.new("1", (5000, 5000)), "PNG")  # 25 M pixels in a few kB
    assert len(data) < 100_000
    with pytest.raises(ImageError, match="too large"):
        decode_image(data)


@pytest.mark.parametrize("im", [
    Image.new("L", (64, 64), 255),
    Image.new("RGB", (64, 64), (0, 0, 0)),
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
    Image.new("L", (64, 64), 128),
], ids=["white", "black", "transparent", "gray"])
def test_blank_image_is_an_error(im):
    with pytest.raises(ImageError, match="blank"):
        decode_image(encode(im, "PNG"))


def test_sixteen_bit_grayscale(digits):
    sixteen = (on_canvas(digits[1]).astype(np.uint16) * 257)
    out = decode_image(encode(Image.fromarray(sixteen), "PNG"))
    assert corr(out, digits[1] / 255.0) > 0.8


def test_tiny_and_thin_images():
    line = np.zeros((1, 300), dtype=np.uint8)
    line[0, 100:200] = 255  # a 1-pixel horizontal stroke on a wide canvas
    out = decode_image(encode(Image.fromarray(line), "PNG"))
    assert out.max() == pytest.approx(1.0) and np.count_nonzero(out > 0.5) >= 15
    dot = np.zeros((3, 3), dtype=np.uint8)
    dot[1, 1] = 255
    assert decode_image(encode(Image.fromarray(dot), "PNG")).shape == (28, 28)
