"""BASELINE, not used by the service: service/imaging.py as it was on main before issue 11, for bench/imaging.py.

Decode an uploaded picture of a digit into a 28×28 MNIST-style image (white digit on black, values in [0, 1]).

The steps follow how MNIST itself was made (LeCun et al.): grayscale, digit as bright ink on a dark background,
cropped to the digit's bounding box, scaled with antialiasing so the longer side is 20 px (aspect ratio kept),
then pasted into 28×28 so that the centre of mass lands on pixel (14, 14) — the mean centre of mass of the MNIST
test set in row/column index coordinates, measured (13.99, 14.01).

Safety: only raster formats without external delegates are opened (PNG, JPEG, GIF, BMP, WebP; never EPS, which
runs Ghostscript), the pixel count is checked from the header before any pixel is decoded, and every decoder
failure becomes an `ImageError`. Pillow's global `Image.MAX_IMAGE_PIXELS` is left untouched: our own, lower limit
is checked first, so Pillow's bomb check can only fire on images we reject anyway (its error is mapped too).

A blank image (no pixel stands out from the background) raises `ImageError`: a confident prediction for an empty
canvas would be a lie, and a 4xx tells the client what went wrong.
"""
import io

import numpy as np
from PIL import Image

MAX_PIXELS = 16 * 1024 * 1024  # ~16 M pixels: a 4096×4096 photo decodes to ≤ 64 MiB RGBA
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
SIZE = 28  # output side
BOX = 20  # the digit's longer side after scaling, as in MNIST
CENTRE = 14.0  # target centre of mass (row, column)
INK_THRESHOLD = 0.1  # ink above this fraction of the contrast counts for the bounding box
MIN_CONTRAST = 0.05  # a digit must stand out from the background by at least this much


class ImageError(ValueError):
    """The bytes are not a usable picture of a digit; the message says why (safe to show to the client)."""


def decode_image(data: bytes) -> np.ndarray:
    """Image file bytes (PNG/JPEG/GIF/BMP/WebP) -> float32 [28, 28] in [0, 1], MNIST-style."""
    return _mnist_layout(_ink(_open(data)))


def _open(data: bytes) -> Image.Image:
    """Open and fully decode the first frame, with the size checked before decoding."""
    if not data:
        raise ImageError("empty image: no bytes received")
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.UnidentifiedImageError as e:
        if known := _sniff(data):  # right magic number, but Pillow could not parse the header
            raise ImageError(f"corrupt or truncated {known} image header") from e
        raise ImageError(f"unrecognised image format (accepted: {', '.join(FORMATS)})") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image too large: more than {MAX_PIXELS} pixels") from e
    except Exception as e:  # a malformed header can raise almost anything from a decoder plugin
        raise ImageError(f"corrupt image header: {e}") from e
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"image too large: {width}x{height} is more than {MAX_PIXELS} pixels")
    if width == 0 or height == 0:
        raise ImageError(f"image has no pixels ({width}x{height})")
    try:
        im.seek(0)
        im.load()  # force the full decode here so truncation surfaces now, not later
    except Exception as e:  # OSError, SyntaxError, ValueError, struct.error, zlib errors ...
        raise ImageError(f"corrupt or truncated {im.format} image: {e}") from e
    return im


def _sniff(data: bytes) -> str | None:
    signatures = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"BM": "BMP"}
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in signatures.items() if data.startswith(magic)), None)


def _ink(im: Image.Image) -> np.ndarray:
    """The digit cropped to its bounding box: float32 [h, w] in [0, 1], bright ink on a dark background.

    With a transparent border (a digit drawn on a transparent browser canvas) the alpha channel *is* the ink,
    whatever the stroke colour. Otherwise the picture is flattened on white, made gray and inverted when the border
    is light. Either way the contrast is stretched so the background is 0 and the darkest stroke 1 (photos of
    paper are gray, not white). Full-size work stays in uint8 (a 16 M pixel upload costs 16 MB per copy, not 128);
    only the crop becomes float.
    """
    alpha = _alpha(im)
    if alpha is not None and np.median(_border(alpha)) < 128:
        level = alpha
    else:
        level = _gray(im, alpha)
        if np.median(_border(level)) > 127:
            np.subtract(255, level, out=level)
    background, peak = float(np.median(_border(level))), float(level.max())
    if peak - background < MIN_CONTRAST * 255:
        raise ImageError("blank image: no digit found")
    mask = level > background + INK_THRESHOLD * (peak - background)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = level[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    return np.clip((crop - background) / (peak - background), 0.0, 1.0)


def _alpha(im: Image.Image) -> np.ndarray | None:
    """The alpha channel as uint8 [H, W], or None for an opaque image."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        return np.asarray(im.convert("RGBA").getchannel("A"))
    return None


def _gray(im: Image.Image, alpha: np.ndarray | None) -> np.ndarray:
    """Luminance as a writable uint8 [H, W]; transparent pixels count as white paper."""
    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit gray: scale by the data's range, not clip at 255
        raw = np.asarray(im, dtype=np.float64)
        scale = 65535.0 if im.mode.startswith("I;16") or raw.max() > 255 else 1.0 if raw.max() <= 1 else 255.0
        gray = np.round(np.clip(raw / scale, 0.0, 1.0) * 255).astype(np.uint8)
    else:
        gray = np.array(im.convert("L"))  # a copy: np.asarray of a PIL image is read-only
    if alpha is not None:  # composite on white: a*g + (255 - a)*255, in uint16 to avoid overflow
        a = alpha.astype(np.uint16)
        gray = ((a * gray + (255 - a) * 255 + 127) // 255).astype(np.uint8)
    return gray


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _mnist_layout(digit: np.ndarray) -> np.ndarray:
    """Scale the cropped digit to fit 20×20, then place it in 28×28 with its centre of mass at (14, 14)."""
    height, width = digit.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # PIL wants (width, height)
    small = Image.fromarray(digit).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)  # mode "F"
    small = np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)  # Lanczos rings slightly outside [0, 1]
    if small.max() > 0:
        small /= small.max()  # thin strokes on a huge canvas fade when shrunk; MNIST ink always peaks at 1
    return _centre_by_mass(small)


def _centre_by_mass(small: np.ndarray) -> np.ndarray:
    h, w = small.shape
    mass = small.sum()
    com_r = (small.sum(axis=1) @ np.arange(h)) / mass
    com_c = (small.sum(axis=0) @ np.arange(w)) / mass
    # top-left corner that puts the centre of mass on CENTRE, clamped so the digit stays inside the frame
    top = int(np.clip(round(CENTRE - com_r), 0, SIZE - h))
    left = int(np.clip(round(CENTRE - com_c), 0, SIZE - w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top:top + h, left:left + w] = small
    return out
