"""BASELINE, not used by the service: service/imaging.py as it was on main before issue 11, for bench/imaging.py
(the helpers that issue 11 left unchanged are imported from service.imaging rather than copied).

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

import numpy as np
from PIL import Image

from service.imaging import ImageError, _alpha, _border, _gray, _header, _mnist_layout  # shared, not copied

INK_THRESHOLD = 0.1  # ink above this fraction of the contrast counts for the bounding box
MIN_CONTRAST = 0.05  # a digit must stand out from the background by at least this much


def decode_image(data: bytes) -> np.ndarray:
    """Image file bytes (PNG/JPEG/GIF/BMP/WebP) -> float32 [28, 28] in [0, 1], MNIST-style."""
    return _mnist_layout(_ink(_open(data)))


def _open(data: bytes) -> Image.Image:
    """Open and fully decode the first frame, with the size checked before decoding."""
    if not data:
        raise ImageError("empty image: no bytes received")
    im = _header(data)
    try:
        im.seek(0)
        im.load()  # force the full decode here so truncation surfaces now, not later
    except Exception as e:  # OSError, SyntaxError, ValueError, struct.error, zlib errors ...
        raise ImageError(f"corrupt or truncated {im.format} image: {e}") from e
    return im


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


