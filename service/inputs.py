"""Turns /v1 request payloads (JSON pixel arrays, base64 images, uploaded files) into model input [N,1,28,28]."""
import base64
import binascii

import numpy as np

from service.errors import BadRequest
from service.imaging import ImageError, decode_image

IMAGE_FIELDS = ("images", "image", "image_base64", "images_base64")


def _pixels(array: np.ndarray) -> np.ndarray:
    """Ints 0-255 are scaled to [0,1]; floats must already be in [0,1]. Returns float32."""
    if array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise BadRequest("integer pixels must be in 0..255")
        return (array / 255.0).astype(np.float32)
    if array.dtype.kind != "f":
        raise BadRequest(f"pixels must be numbers, got {array.dtype.kind!r} values")
    if not np.isfinite(array).all():
        raise BadRequest("pixels must be finite (no NaN or Infinity)")
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise BadRequest("float pixels must be in [0, 1] (or send integers 0..255)")
    return array.astype(np.float32, copy=False)


def _shape(array: np.ndarray) -> np.ndarray:
    """[28,28] (one image), [N,28,28] or [N,1,28,28] -> [N,1,28,28]."""
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise BadRequest(f"images must be 28x28 (one image, a list of them, or [N,1,28,28]); got shape "
                         f"{list(array.shape)}")
    return array[:, None]


def from_pixel_lists(value: object) -> np.ndarray:
    if isinstance(value, list) and not value:
        raise BadRequest("empty batch: send at least one image")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nesting
        raise BadRequest(f"images must be a regular nested list of numbers ({str(e)[:80]})") from e
    if array.dtype == object or array.dtype.kind in "bUS":
        raise BadRequest("images must be nested lists of numbers")
    return _shape(_pixels(array))


def from_encoded(blobs: list[bytes]) -> np.ndarray:
    """PNG/JPEG/... files -> [N,1,28,28] via the MNIST-style preprocessing in service.imaging."""
    if not blobs:
        raise BadRequest("empty batch: send at least one image")
    out = []
    for i, blob in enumerate(blobs):
        try:
            out.append(decode_image(blob))
        except ImageError as e:
            raise BadRequest(f"image {i}: {e}") from e
    return np.stack(out)[:, None].astype(np.float32, copy=False)


def _b64(value: object, i: int) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"image_base64[{i}] must be a string")
    if value.startswith("data:") and "," in value:  # tolerate data URLs from browsers
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise BadRequest(f"image_base64[{i}] is not valid base64") from e


def from_json(body: object) -> np.ndarray:
    """The JSON forms of /v1 predict and compare: images | image | image_base64 | images_base64."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object with 'images', 'image_base64' or 'images_base64'")
    given = [k for k in IMAGE_FIELDS if k in body]
    if len(given) != 1:
        raise BadRequest(f"send exactly one of {', '.join(IMAGE_FIELDS)}; got {given or 'none'}")
    key = given[0]
    if key in ("images", "image"):
        return from_pixel_lists(body[key])
    blobs = body[key] if key == "images_base64" else [body[key]]
    if not isinstance(blobs, list):
        raise BadRequest("images_base64 must be a list of strings")
    return from_encoded([_b64(v, i) for i, v in enumerate(blobs)])


def check_batch(x: np.ndarray, max_batch: int) -> np.ndarray:
    if len(x) == 0:
        raise BadRequest("empty batch: send at least one image")
    if len(x) > max_batch:
        raise BadRequest(f"batch of {len(x)} images is above the limit of {max_batch}")
    return np.ascontiguousarray(x, dtype=np.float32)
