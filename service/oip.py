"""Open Inference Protocol v2 request/response codec: JSON tensors and the binary tensor data extension."""
import json
import math
from dataclasses import dataclass, field

import numpy as np

from service.body import parse_json
from service.errors import BadRequest

DTYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
          "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
          "FP32": np.float32, "FP64": np.float64}
HEADER_LENGTH = "inference-header-content-length"
MAX_ELEMENTS = 1 << 28


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: dict[str, bool] = field(default_factory=dict)  # requested output -> binary?
    binary_default: bool = False


def split_body(body: bytes, header_length: str | None) -> tuple[object, bytes]:
    """JSON header and the binary tail (binary extension), or the whole body as JSON."""
    if header_length is None:
        return parse_json(body), b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise BadRequest(f"Inference-Header-Content-Length {header_length!r} does not fit a {len(body)}-byte body")
    n = int(header_length)
    return parse_json(body[:n]), body[n:]


def _shape(tensor: dict, name: str) -> tuple[int, ...]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              and d <= 2**31 for d in shape) or len(shape) > 8:
        raise BadRequest(f"input '{name}': shape must be a list of at most 8 integers in [0, 2^31]")
    return tuple(shape)


def _decode(tensor: object, tail: bytes, offset: int) -> tuple[str, np.ndarray, int]:
    """One input tensor -> (name, array in its shape, new offset into the binary tail)."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise BadRequest("each input must be an object with a 'name'")
    name, datatype = tensor["name"], tensor.get("datatype")
    if datatype not in DTYPES:
        raise BadRequest(f"input '{name}': unknown or unsupported datatype {datatype!r}")
    shape, dtype = _shape(tensor, name), np.dtype(DTYPES[datatype]).newbyteorder("<")
    count = math.prod(shape)  # Python ints: numpy's int64 product wraps around on hostile shapes
    if count > MAX_ELEMENTS:
        raise BadRequest(f"input '{name}': shape {list(shape)} has more than {MAX_ELEMENTS} elements")
    size = (tensor.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size != count * dtype.itemsize or offset + size > len(tail):
            raise BadRequest(f"input '{name}': binary_data_size {size!r} does not match shape {list(shape)} "
                             f"({count * dtype.itemsize} bytes) or the {len(tail) - offset} bytes left")
        return name, np.frombuffer(tail, dtype, count, offset).reshape(shape), offset + size
    return name, _from_json_data(tensor.get("data"), name, dtype, shape, count), offset


def _from_json_data(data: object, name: str, dtype: np.dtype, shape: tuple, count: int) -> np.ndarray:
    if not isinstance(data, list):
        raise BadRequest(f"input '{name}': 'data' must be a list (or use binary_data_size)")
    try:
        flat = np.asarray(data, dtype=dtype if dtype.kind != "f" else np.float64).reshape(-1)
    except (ValueError, TypeError, OverflowError) as e:
        raise BadRequest(f"input '{name}': data is not a regular list of {dtype.name} values") from e
    if flat.size != count:
        raise BadRequest(f"input '{name}': {flat.size} values do not match shape {list(shape)} ({count})")
    return flat.astype(dtype, copy=False).reshape(shape)


def _outputs(header: dict) -> tuple[dict[str, bool], bool]:
    default = bool((header.get("parameters") or {}).get("binary_data_output", False))
    requested = header.get("outputs") or []
    if not isinstance(requested, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                  for o in requested):
        raise BadRequest("'outputs' must be a list of objects with a 'name'")
    return {o["name"]: bool((o.get("parameters") or {}).get("binary_data", default)) for o in requested}, default


def parse_infer(body: bytes, header_length: str | None) -> InferRequest:
    header, tail = split_body(body, header_length)
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list) or not header["inputs"]:
        raise BadRequest("inference request must be an object with a non-empty 'inputs' list")
    inputs, offset = {}, 0
    for tensor in header["inputs"]:
        name, array, offset = _decode(tensor, tail, offset)
        inputs[name] = array
    outputs, default = _outputs(header)
    rid = header.get("id")
    return InferRequest(rid if isinstance(rid, str) else None, inputs, outputs, default)


def encode_response(model: str, version: str, rid: str | None, outputs: dict[str, np.ndarray],
                    binary: dict[str, bool]) -> tuple[bytes, dict[str, str]]:
    """JSON response, or JSON header + raw little-endian bytes for outputs asked for in binary."""
    tensors, blobs = [], []
    for name, array in outputs.items():
        t = {"name": name, "datatype": "FP32", "shape": list(array.shape)}
        if binary.get(name):
            raw = np.ascontiguousarray(array, "<f4").tobytes()
            t["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            t["data"] = array.reshape(-1).tolist()
        tensors.append(t)
    head = {"model_name": model, "model_version": version, "outputs": tensors}
    if rid is not None:
        head["id"] = rid
    header = json.dumps(head, separators=(",", ":")).encode()
    if not blobs:
        return header, {}
    return header + b"".join(blobs), {"Inference-Header-Content-Length": str(len(header))}
