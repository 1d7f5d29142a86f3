"""Open Inference Protocol v2 request/response codec: JSON tensors and the binary tensor data extension.

The parser trusts nothing: every field is type-checked before use, so any malformed body is a 400 naming the
field, never an exception from deep inside numpy.
"""
import math
from dataclasses import dataclass, field

import numpy as np
import orjson

from kanserve.contract import DATATYPES
from service.errors import BadRequest

HEADER_LENGTH = "inference-header-content-length"
MAX_ELEMENTS = 1 << 28
MAX_DIMS = 8


@dataclass
class OutputRequest:
    binary: bool
    classification: int = 0  # the classification extension: the top k classes as "value:index:label" strings


@dataclass
class OutputTensor:
    name: str
    datatype: str
    data: np.ndarray  # numbers, or str objects for BYTES
    binary: bool


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: dict[str, OutputRequest] = field(default_factory=dict)  # requested outputs; {} = all, default form
    binary_default: bool = False


def parse_json(body: bytes) -> object:
    """orjson on raw bytes (strict: no NaN/Infinity tokens, UTF-8 only); tritonclient sends no Content-Type."""
    if not body:
        raise BadRequest("empty body: expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"invalid JSON: {e}") from None


def _object(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    return value


def _flag(params: dict, key: str, default: bool, where: str) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{where}.{key} must be true or false")
    return value


def _int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{where} must be a non-negative integer")
    return value


def split_body(body: bytes, header_length: str | None) -> tuple[object, bytes]:
    """JSON header and the binary tail (binary extension), or the whole body as JSON."""
    if header_length is None:
        return parse_json(body), b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise BadRequest(f"Inference-Header-Content-Length {header_length!r} does not fit a {len(body)}-byte body")
    n = int(header_length)
    return parse_json(body[:n]), body[n:]


def _shape(value: object, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > MAX_DIMS:
        raise BadRequest(f"{where}.shape must be a list of at most {MAX_DIMS} integers")
    shape = tuple(_int(d, f"{where}.shape[{i}]") for i, d in enumerate(value))
    if math.prod(shape) > MAX_ELEMENTS:  # Python ints: numpy's int64 product wraps around on hostile shapes
        raise BadRequest(f"{where}: shape {list(shape)} has more than {MAX_ELEMENTS} elements")
    return shape


def _decode(tensor: object, i: int, tail: bytes, offset: int) -> tuple[str, np.ndarray, int]:
    """One input tensor -> (name, array in its shape, new offset into the binary tail)."""
    where = f"inputs[{i}]"
    tensor = _object(tensor, where)
    name, datatype = tensor.get("name"), tensor.get("datatype")
    if not isinstance(name, str):
        raise BadRequest(f"{where}.name must be a string")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise BadRequest(f"{where} ('{name}'): datatype must be one of {', '.join(DATATYPES)}; got {datatype!r}")
    shape, dtype = _shape(tensor.get("shape"), where), np.dtype(DATATYPES[datatype]).newbyteorder("<")
    count = math.prod(shape)
    params = _object(tensor.get("parameters"), f"{where}.parameters")
    if "binary_data_size" in params:
        size = _int(params["binary_data_size"], f"{where}.parameters.binary_data_size")
        if size != count * dtype.itemsize or offset + size > len(tail):
            raise BadRequest(f"{where} ('{name}'): binary_data_size {size} does not match shape {list(shape)} "
                             f"({count * dtype.itemsize} bytes) or the {len(tail) - offset} bytes left")
        return name, np.frombuffer(tail, dtype, count, offset).reshape(shape), offset + size
    return name, _from_json_data(tensor.get("data"), where, dtype, shape, count), offset


def _from_json_data(data: object, where: str, dtype: np.dtype, shape: tuple, count: int) -> np.ndarray:
    if not isinstance(data, list):
        raise BadRequest(f"{where}.data must be a list (or use the binary extension)")
    try:
        flat = np.asarray(data)
    except (ValueError, TypeError, OverflowError):  # ragged nesting, huge integers
        raise BadRequest(f"{where}.data must be a regular list of numbers") from None
    allowed = "b" if dtype.kind == "b" else "iuf" if dtype.kind == "f" else "iu"
    if flat.size and flat.dtype.kind not in allowed:
        raise BadRequest(f"{where}.data must hold {dtype.name} values")
    if flat.size != count:
        raise BadRequest(f"{where}: {flat.size} values do not match shape {list(shape)} ({count})")
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf: the contract refuses them
        return flat.astype(dtype).reshape(shape)


def _outputs(value: object, default: bool) -> dict[str, OutputRequest]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise BadRequest("'outputs' must be a list")
    requested = {}
    for i, o in enumerate(value):
        o = _object(o, f"outputs[{i}]")
        if not isinstance(o.get("name"), str):
            raise BadRequest(f"outputs[{i}].name must be a string")
        params = _object(o.get("parameters"), f"outputs[{i}].parameters")
        classes = _int(params.get("classification", 0), f"outputs[{i}].parameters.classification")
        requested[o["name"]] = OutputRequest(_flag(params, "binary_data", default, f"outputs[{i}].parameters"),
                                             classes)
    return requested


def parse_infer(body: bytes, header_length: str | None) -> InferRequest:
    header, tail = split_body(body, header_length)
    if not isinstance(header, dict):
        raise BadRequest("inference request must be a JSON object")
    rid = header.get("id")
    if rid is not None and not isinstance(rid, str):
        raise BadRequest("'id' must be a string")
    params = _object(header.get("parameters"), "parameters")
    default = _flag(params, "binary_data_output", False, "parameters")
    tensors = header.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise BadRequest("'inputs' must be a non-empty list")
    inputs, offset = {}, 0
    for i, tensor in enumerate(tensors):
        name, array, offset = _decode(tensor, i, tail, offset)
        if name in inputs:
            raise BadRequest(f"input '{name}' is given twice")
        inputs[name] = array
    return InferRequest(rid, inputs, _outputs(header.get("outputs"), default), default)


def classify(output: np.ndarray, k: int, labels: tuple[str, ...]) -> np.ndarray:
    """Triton's classification extension: per row, the k largest values as "value:index:label" (value printed
    like C++'s std::to_string), best first -> str objects [N, k]."""
    rows = output.reshape(len(output), -1)
    k = min(k, rows.shape[1])
    top = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    return np.array([[f"{rows[i, j]:f}:{j}" + (f":{labels[j]}" if j < len(labels) else "") for j in idx]
                     for i, idx in enumerate(top)], dtype=object)


def _raw(t: OutputTensor) -> bytes:
    """The binary extension's bytes: little-endian numbers, or BYTES as 4-byte length + UTF-8 per element."""
    if t.datatype == "BYTES":
        return b"".join(len(b).to_bytes(4, "little") + b for b in (str(v).encode() for v in t.data.ravel()))
    return np.ascontiguousarray(t.data, t.data.dtype.newbyteorder("<")).tobytes()


def encode_response(model: str, version: str, rid: str | None,
                    outputs: list[OutputTensor]) -> tuple[bytes, dict[str, str]]:
    """JSON response, or JSON header + raw bytes for outputs asked for in binary."""
    tensors, blobs = [], []
    for t in outputs:
        head = {"name": t.name, "datatype": t.datatype, "shape": list(t.data.shape)}
        if t.binary:
            blob = _raw(t)
            head["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            head["data"] = t.data.ravel().tolist() if t.datatype == "BYTES" else np.ascontiguousarray(t.data.ravel())
        tensors.append(head)
    body = {"model_name": model, "model_version": version, "outputs": tensors}
    if rid is not None:
        body["id"] = rid
    header = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, {}
    return header + b"".join(blobs), {"Inference-Header-Content-Length": str(len(header))}
