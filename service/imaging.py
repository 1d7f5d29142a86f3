"""Find the digit in an uploaded picture (a photo, a scan, a canvas drawing) and lay it out as a 28×28 MNIST image.

The layout follows how MNIST itself was made (LeCun et al.): the digit as bright ink on a dark background,
cropped to its bounding box, scaled with antialiasing so the longer side is 20 px (aspect ratio kept), then pasted
into 28×28 so that the centre of mass lands on pixel (14, 14), the measured mean of the MNIST test set.

Finding the digit (OpenCV): the ink level is the alpha channel of a transparent canvas, else the luminance, inverted
when the ink is darker than the background (the background is the bulk of the pixels, the ink a tail). Uneven
light, shadows, coloured paper and the desk around a sheet are removed by subtracting a morphological opening
(the background without anything as thin as a stroke); the ink threshold is Otsu's on what is left. Connected
components then keep the digit: the heaviest blob plus the pieces near it, without specks, without structures much
thinner than the digit's strokes (ruled and squared lines) and without what spans the frame from its edge.

Safety: only raster formats without external delegates are opened (PNG, JPEG, GIF, BMP, WebP; never EPS, which
runs Ghostscript), the pixel count is checked from the header before any pixel is decoded, every decoder failure
becomes an `ImageError`, and Pillow's warnings (decompression bomb, corrupt EXIF, ...) are silenced around the
decode only. Pillow's global `Image.MAX_IMAGE_PIXELS` is left untouched: our own, lower limit is checked first.
Big JPEGs are decoded at 1/2, 1/4 or 1/8 scale inside libjpeg (a digit needs no more than a few hundred pixels).

A blank image (nothing stands out from the background) raises `ImageError`: a confident prediction for an empty
canvas would be a lie, and a 4xx tells the client what went wrong.
"""
import base64
import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

MAX_PIXELS = 4096 * 3072  # a 12-megapixel phone photo; a bigger PNG would hold a CPU core for too long
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
SIZE = 28  # output side
BOX = 20  # the digit's longer side after scaling, as in MNIST
CENTRE = 14.0  # target centre of mass (row, column)
WORK = 320  # JPEGs are decoded at the scale that brings their longer side nearest WORK; others reduced below 2×
MIN_CONTRAST = 0.05  # a digit must stand out from the background by at least this fraction of 255
THIN = 2.5  # half-widths (px) at the working scale above which a stroke outlives the removal of printed lines
RIM = 0.08  # how far (fraction of the digit's size) antialiased rims may reach beyond the thresholded strokes
WEAK = 0.1  # antialiased edge pixels above this fraction of the peak ink count for the bounding box
ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_90}  # EXIF tag 0x0112 -> the transpose that makes the picture upright
_PILLOW = threading.Lock()  # warnings.catch_warnings swaps process-wide state: one decode at a time inside it

cv2.setNumThreads(1)  # the images are small; the server parallelises across requests, not inside one


class ImageError(ValueError):
    """The bytes are not a usable picture of a digit; the message says why (safe to show to the client)."""


@dataclass(frozen=True)
class Extraction:
    """What the model sees, and where it came from (for `?debug=true`)."""

    image: np.ndarray  # float32 [28, 28] in [0, 1], white digit on black
    bbox: tuple[int, int, int, int]  # (left, top, right, bottom), right/bottom exclusive, in upright upload pixels
    inverted: bool  # dark ink on a light background was inverted
    source: str  # "alpha" (transparent canvas: opacity is ink) or "luminance"


def decode_image(data: bytes) -> np.ndarray:
    """Image file bytes (PNG/JPEG/GIF/BMP/WebP) -> float32 [28, 28] in [0, 1], MNIST-style."""
    return extract_digit(data).image


def extract_digit(data: bytes) -> Extraction:
    """Image file bytes -> the 28×28 digit plus its bounding box in the uploaded picture."""
    with _quiet_pillow():
        im, scale = _open(data)
        level, source = _ink_level(im)  # converting a palette image can warn too
    level, factor = _reduce(level)
    inverted = source == "luminance" and _dark_ink(level)
    if inverted:
        level = 255 - level
    digit, (top, bottom, left, right) = _find_digit(level)
    scale *= factor
    bbox = (int(left * scale), int(top * scale), int(np.ceil(right * scale)), int(np.ceil(bottom * scale)))
    return Extraction(_mnist_layout(digit), bbox, inverted, source)


def png_base64(image: np.ndarray) -> str:
    """A float [28, 28] image in [0, 1] as a base64 8-bit grayscale PNG (what the model saw)."""
    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _open(data: bytes) -> tuple[Image.Image, float]:
    """Decode the first frame, upright, with the size checked first; returns it and its downscale factor."""
    if not data:
        raise ImageError("empty image: no bytes received")
    im = _header(data)
    scale = _draft(im)
    try:
        im.seek(0)
        im.load()  # force the full decode here so truncation surfaces now, not later
        transpose = ORIENTATION.get(im.getexif().get(0x0112, 1))
    except Exception as e:  # OSError, SyntaxError, ValueError, struct.error, zlib errors ...
        raise ImageError(f"corrupt or truncated {im.format} image: {e}") from e
    return (im.transpose(transpose) if transpose is not None else im), scale


@contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Pillow warns on bomb-sized headers, odd EXIF, palette transparency: all handled here, none for stderr."""
    with _PILLOW, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _header(data: bytes) -> Image.Image:
    """Identify the format and read the header; refuse what is too big before any pixel is decoded."""
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.UnidentifiedImageError as e:
        if known := _sniff(data):  # right magic number, but Pillow could not parse the header
            raise ImageError(f"corrupt or truncated {known} image header") from e
        raise ImageError(f"unrecognised image format (accepted: {', '.join(FORMATS)})") from e
    except Image.DecompressionBombError as e:
        raise ImageError(f"image too large: more than {MAX_PIXELS} pixels") from e
    except Exception as e:  # a malformed header can raise almost anything from a decoder plugin
        raise ImageError(f"corrupt image header: {e}") from e
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"image too large: {width}x{height} is more than {MAX_PIXELS} pixels")
    if width == 0 or height == 0:
        raise ImageError(f"image has no pixels ({width}x{height})")
    return im


def _draft(im: Image.Image) -> float:
    """Ask libjpeg for a 1/2, 1/4 or 1/8 scale grayscale decode when the picture is big; returns the factor."""
    if im.format != "JPEG":
        return 1.0
    width, height = im.size
    k = -(-max(width, height) // WORK)  # ceil: speed matters most for phone photos, which are JPEGs
    im.draft("L", (width // k, height // k))  # libjpeg picks the largest of 1, 2, 4, 8 that is ≤ k
    return width / im.size[0]


def _sniff(data: bytes) -> str | None:
    signatures = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"BM": "BMP"}
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in signatures.items() if data.startswith(magic)), None)


def _ink_level(im: Image.Image) -> tuple[np.ndarray, str]:
    """uint8 [H, W] and where it came from: "alpha" (ink bright) or "luminance" (ink either way, see `_dark_ink`).

    With a transparent border (a digit drawn on a transparent browser canvas) the alpha channel *is* the ink,
    whatever the stroke colour. Otherwise the picture is flattened on white and made gray.
    """
    alpha = _alpha(im)
    if alpha is not None and np.median(_border(alpha)) < 128:
        return alpha, "alpha"
    return _gray(im, alpha), "luminance"


def _dark_ink(level: np.ndarray) -> bool:
    """Whether the ink is darker than the background: the background is the bulk of the pixels, the ink a tail.

    Asked twice: of the picture, and of its detail after subtracting a blur a third of the picture wide (a shadow
    over half the sheet moves the median; in the detail, its edge leaves a lobe on both sides, the ink one tail).
    Dark ink if either says so: white-on-dark pictures have no shadows for the second to misread.
    """
    size = min(level.shape) // 3
    if _longer_tail_low(level):
        return True
    return size >= 16 and _longer_tail_low(level.astype(np.int16) - cv2.blur(level, (size, size)))


def _longer_tail_low(values: np.ndarray) -> bool:
    low, middle, high = np.percentile(values[::2, ::2], [0.5, 50, 99.5])  # every 4th pixel is plenty
    return bool(middle - low > high - middle)


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


def _reduce(level: np.ndarray) -> tuple[np.ndarray, int]:
    """Box-filter by an integer factor so the longer side is below 2 × WORK (a drawing up to 640 px stays as it is)."""
    k = max(level.shape) // WORK
    if k < 2:
        return level, 1
    return np.asarray(Image.fromarray(level).reduce(k)), k


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _find_digit(level: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The digit's ink, cropped: float32 [h, w] in [0, 1] (0 off the digit), and its (top, bottom, left, right)."""
    flat, mask, keep = _segment(level)
    peak = float(flat[keep > 0].max())
    low, floor = _noise(flat, mask)
    # the strokes' full width, antialiased rims included (a distance transform: a wide disk dilation is slow)
    near = cv2.distanceTransform(1 - keep, cv2.DIST_L2, 3) <= _rim(keep)
    region = near & (flat > max(WEAK * peak, floor))
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.where(near[top:bottom, left:right], flat[top:bottom, left:right].astype(np.float32) - low, 0)
    return np.clip(crop / (peak - low), 0.0, 1.0), (top, bottom, left, right)


def _segment(level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ink above the background, Otsu's ink mask, the digit's components), all [h, w] uint8."""
    flat = _flatten(level)
    smooth = cv2.GaussianBlur(flat, (0, 0), 1.0)  # sensor noise would fray the threshold
    if smooth.max() < MIN_CONTRAST * 255:
        raise ImageError("blank image: no digit found")
    _, mask = cv2.threshold(smooth, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return flat, mask, _digit_components(_drop_thin(mask), smooth)


def _rim(keep: np.ndarray) -> float:
    """How far the digit's antialiased rims reach beyond its thresholded strokes: 8 % of its size, at least 4 px."""
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    return max(4.0, RIM * max(rows[-1] - rows[0], cols[-1] - cols[0]))


def _noise(flat: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """The background's typical level and a level that noise hardly ever reaches (median + 4 robust sigmas)."""
    background = flat[::2, ::2][mask[::2, ::2] == 0]
    if background.size == 0:
        return 0.0, 0.0
    median, upper = np.percentile(background, [50, 75])
    sigma = (upper - median) / 0.6745
    return float(median + sigma), float(median + 4 * sigma)


def _flatten(level: np.ndarray) -> np.ndarray:
    """Ink above the local background: level minus its opening by a square a quarter of the picture wide (uint8).

    The opening is the background without anything as narrow as a stroke: uneven light, the desk, coloured paper.
    """
    side = min(level.shape)
    if side < 64:  # an icon or an MNIST-sized image, not a photo: the background is one level
        background = np.uint8(np.median(_border(level)))
        return level - np.minimum(level, background)
    size = side // 4 | 1
    background = cv2.morphologyEx(cv2.GaussianBlur(level, (0, 0), 1.0), cv2.MORPH_OPEN, np.ones((size, size), np.uint8))
    return cv2.subtract(level, background)


def _drop_thin(mask: np.ndarray) -> np.ndarray:
    """Remove 1–2 px structures (printed lines) when there are strokes thicker than that.

    A drawing made only of thin strokes is left alone: then nothing is thinner than the digit.
    """
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    if np.count_nonzero(dist >= THIN) < 0.1 * np.count_nonzero(mask):
        return mask
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disk(3))


def _digit_components(mask: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """uint8 mask of the heaviest blob that is not frame-like, plus the pieces near it."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    mass = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=count)
    mass[0] = 0
    if mass.max() <= 0:
        raise ImageError("blank image: no digit found")
    mass_inside = np.where(_frame_like(labels, stats), 0, mass)
    if mass_inside.max() < 0.02 * mass.max():  # nothing but specks inside: the picture is cropped to the digit
        mass_inside = mass
    return _grow(int(mass_inside.argmax()), stats, mass_inside)[labels].astype(np.uint8)


def _frame_like(labels: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """bool [count]: runs along the picture's edge or across it (the desk around a sheet, a shadow, a printed line)."""
    h, w = labels.shape
    contact = np.bincount(_border(labels), minlength=len(stats))
    across = (stats[:, cv2.CC_STAT_WIDTH] > 0.8 * w) | (stats[:, cv2.CC_STAT_HEIGHT] > 0.8 * h)
    return (contact > 0) & across | (contact > 0.15 * min(h, w))


def _grow(main: int, stats: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """bool [count]: the main component plus the pieces (not specks) near it, e.g. a pencil stroke broken in two."""
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x2, y2 = x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]
    chosen = np.zeros(len(stats), bool)
    chosen[main] = True
    for _ in range(3):
        left, top, right, bottom = x[chosen].min(), y[chosen].min(), x2[chosen].max(), y2[chosen].max()
        reach = 0.25 * max(right - left, bottom - top)
        near = (x < right + reach) & (x2 > left - reach) & (y < bottom + reach) & (y2 > top - reach)
        new = near & (mass >= 0.03 * mass[main]) & ~chosen
        if not new.any():
            break
        chosen |= new
    return chosen


def _disk(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


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
