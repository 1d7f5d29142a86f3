"""Photos of digits: both shipped models read ≥ 97 % of phone-photo-like renders through service.imaging, clean
MNIST PNGs stay ≥ 99.5 %, transparent-canvas drawings decode exactly as before issue 11, and the debug view works."""
import base64
import io
import warnings

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from bench import imaging_baseline
from service.imaging import ImageError, decode_image, extract_digit, png_base64
from tests.service.conftest import SHIPPED
from tests.service.photos import corpus, render

TEST_SEED = 20261130  # thresholds were developed on seed 1 only


@pytest.fixture(scope="module")
def models() -> dict[str, ort.InferenceSession]:
    if not (SHIPPED / "index.json").exists():
        pytest.skip("shipped model_repository/ not present")
    return {m: ort.InferenceSession(str(SHIPPED / m / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
            for m in ("mlp", "fasterkan")}


@pytest.fixture(scope="module")
def mnist(data_dir):
    from models.data import load_mnist

    return load_mnist("test", data_dir)


def accuracy(session: ort.InferenceSession, x: np.ndarray, labels: np.ndarray) -> float:
    logits = np.concatenate([session.run(["logits"], {"images": x[i:i + 250]})[0] for i in range(0, len(x), 250)])
    return float((logits.argmax(1) == labels).mean())


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def test_photo_renders(models, data_dir):
    renders = corpus(TEST_SEED, 1000, data_dir)
    x = np.stack([decode_image(r.data) for r in renders])[:, None]
    labels = np.array([r.label for r in renders])
    for name, session in models.items():
        assert accuracy(session, x, labels) >= 0.97, name


def test_clean_mnist_black_on_white_png(models, mnist):
    images, labels = mnist
    idx = np.random.default_rng(TEST_SEED).choice(len(images), 1000, replace=False)
    x = np.stack([decode_image(png(255 - images[i])) for i in idx])[:, None]
    for name, session in models.items():
        assert accuracy(session, x, labels[idx]) >= 0.995, name


def test_canvas_drawings_unchanged(mnist):
    """Digits drawn on a transparent canvas (alpha = ink), and white on black, decode as the old decoder did.

    Not bit for bit: the bounding box now comes from Otsu's strokes plus their rims, which can differ by a pixel.
    """
    for digit in mnist[0][:20]:
        big = np.asarray(Image.fromarray(digit).resize((252, 252), Image.Resampling.BILINEAR))
        rgba = np.zeros((380, 500, 4), np.uint8)
        rgba[60:312, 230:482, 3] = big
        white_on_black = np.zeros((380, 500), np.uint8)
        white_on_black[60:312, 230:482] = big
        for data in (png(rgba), png(white_on_black)):
            new, old = decode_image(data), imaging_baseline.decode_image(data)
            assert np.corrcoef(new.ravel(), old.ravel())[0, 1] > 0.99


def test_extraction_reports_bbox_and_polarity(mnist):
    photo = render(mnist[0][0], "photo", np.random.default_rng(3))
    found = extract_digit(photo)
    width, height = Image.open(io.BytesIO(photo)).size
    left, top, right, bottom = found.bbox
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    assert found.inverted and found.source == "luminance"
    shown = Image.open(io.BytesIO(base64.b64decode(png_base64(found.image))))
    assert shown.size == (28, 28) and shown.mode == "L"
    assert np.abs(np.asarray(shown) / 255.0 - found.image).max() <= 0.5 / 255 + 1e-6


def test_exif_orientation_is_applied(mnist):
    """A phone stores a portrait photo sideways plus EXIF orientation 6; the decoder turns it upright."""
    upright = Image.fromarray(np.pad(255 - mnist[0][1], 40, constant_values=255)).resize((300, 300))
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 undoes this by ROTATE_270
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    sideways.save(buf, "JPEG", quality=95, exif=exif)
    plain = io.BytesIO()
    upright.save(plain, "JPEG", quality=95)
    assert np.corrcoef(decode_image(buf.getvalue()).ravel(), decode_image(plain.getvalue()).ravel())[0, 1] > 0.95


def test_pillow_warnings_never_escape():
    """A header bigger than Pillow's own bomb limit makes it warn; we reject it, and nothing is warned."""
    big = Image.new("1", (10_000, 10_000))  # 100 M pixels: above Pillow's 89 M warning limit, below its error limit
    buf = io.BytesIO()
    big.save(buf, "PNG")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError, match="too large"):
            decode_image(buf.getvalue())
