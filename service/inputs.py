"""/v1 request bodies -> model input [N,1,28,28] float32: JSON pixel arrays, base64 files, multipart uploads.

Everything here is plain CPU work (parse, decode) that the routes run in the worker pool when it is not small.
The contract's `validate` makes the final check (batch limit, range) for /v1 and /v2 alike.
"""
import base64
import binascii

import numpy as np
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from service.errors import BadRequest
from service.imaging import Extraction, ImageError, extract_digit
from service.schemas import MAX_FILES, ImageFields


def _pixels(array: np.ndarray) -> np.ndarray:
    """Ints 0-255 are scaled to [0,1]; floats pass as they are (the contract checks their range). float32."""
    if array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise BadRequest("integer pixels must be in 0..255")
        return (array / 255.0).astype(np.float32)
    if array.dtype.kind != "f":
        raise BadRequest(f"pixels must be numbers, got {array.dtype.kind!r} values")
    with np.errstate(over="ignore"):  # 1e300 becomes inf, which the contract refuses by name
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
    except (ValueError, TypeError, OverflowError) as e:  # ragged nesting, huge integers
        raise BadRequest(f"images must be a regular nested list of numbers ({str(e)[:80]})") from None
    if array.dtype == object or array.dtype.kind in "bUS":
        raise BadRequest("images must be nested lists of numbers")
    return _shape(_pixels(array))


def from_encoded(blobs: list[bytes]) -> tuple[np.ndarray, list[Extraction]]:
    """PNG/JPEG/... files -> [N,1,28,28] via the digit extraction in service.imaging, and what it found in each."""
    if not blobs:
        raise BadRequest("empty batch: send at least one image")
    found = []
    for i, blob in enumerate(blobs):
        try:
            found.append(extract_digit(blob))
        except ImageError as e:
            raise BadRequest(f"image {i}: {e}") from None
    return np.stack([f.image for f in found])[:, None].astype(np.float32, copy=False), found


def _b64(value: str, i: int) -> bytes:
    if value.startswith("data:") and "," in value:  # tolerate data URLs from browsers
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"image_base64[{i}] is not valid base64") from None


def is_encoded(req: ImageFields) -> bool:
    return req.image_base64 is not None or req.images_base64 is not None


def from_fields(req: ImageFields) -> tuple[np.ndarray, list[Extraction] | None]:
    """The one image form the body carries -> [N,1,28,28] (and, for files, what was found in each)."""
    if req.images is not None or req.image is not None:
        return from_pixel_lists(req.images if req.images is not None else req.image), None
    blobs = req.images_base64 if req.images_base64 is not None else [req.image_base64]
    return from_encoded([_b64(v, i) for i, v in enumerate(blobs)])


async def multipart_files(headers: Headers, body: bytes) -> list[bytes]:
    """All uploaded files of a multipart/form-data body, in order."""
    async def stream():
        yield body

    try:
        form = await MultiPartParser(headers, stream(), max_files=MAX_FILES, max_fields=16).parse()
    except MultiPartException as e:
        raise BadRequest(f"invalid multipart body: {e.message}") from None
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    try:
        return [await f.read() for f in files]
    finally:
        await form.close()
