"""The model contract: what one model version takes and returns, written by export and enforced by the service.

Torch-free and onnx-free, so the serving install can read it. One `ModelSpec` per model version, stored in its
`metadata.json`; `validate` is the one input check every HTTP surface calls before a tensor reaches a session.
"""
from dataclasses import dataclass, field

import numpy as np

# OIP datatype names <-> numpy dtypes (the binary extension is little-endian).
DATATYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
             "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
             "FP32": np.float32, "FP64": np.float64}
MNIST_LABELS = tuple(str(d) for d in range(10))
PROVENANCE_KEYS = ("architecture", "parameters", "test_accuracy", "n_test", "data_sha256", "git_commit", "tools",
                   "opset", "ir_version", "calibration", "quantization", "fp32_sha256", "fp32_test_accuracy",
                   "fp32_argmax_agreement", "sha256", "files")


class ContractError(ValueError):
    """A tensor or a metadata file that does not fit the contract; the message is safe to show to a client."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # OIP datatype, e.g. "FP32"
    dims: tuple[int, ...]  # one item's shape, batch dimension excluded: (1, 28, 28)
    format: str = "FORMAT_NONE"  # Triton's input format: FORMAT_NCHW for images

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(DATATYPES[self.datatype])

    def oip(self) -> dict:
        """The OIP metadata form: shape with -1 for the batch."""
        return {"name": self.name, "datatype": self.datatype, "shape": [-1, *self.dims]}


@dataclass(frozen=True)
class ModelSpec:
    """One model version: I/O, limits, labels, how inputs are scaled, and where it came from."""

    name: str
    version: str
    input: TensorSpec
    output: TensorSpec
    max_batch_size: int = 256
    labels: tuple[str, ...] = MNIST_LABELS
    value_range: tuple[float, float] | None = (0.0, 1.0)  # what /v1 accepts; /v2 takes any finite value
    normalisation: str = "inside the graph: (x - 0.1307) / 0.3081"
    precision: str = "fp32"
    provenance: dict = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, meta: object, source: str) -> "ModelSpec":
        """Read a metadata.json object; a missing or mistyped field is a ContractError naming `source`."""
        try:
            return cls._parse(meta)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ContractError(f"{source}: not a valid model contract ({type(e).__name__}: {e})") from None

    @classmethod
    def _parse(cls, meta) -> "ModelSpec":
        if not isinstance(meta, dict):
            raise TypeError("expected a JSON object")
        (inp,), (out,) = meta["inputs"], meta["outputs"]
        value_range = meta.get("value_range", [0.0, 1.0])
        return cls(
            name=_text(meta["name"]), version=_text(meta["version"]), input=_tensor(inp, meta.get("input_format")),
            output=_tensor(out), max_batch_size=_positive(meta.get("max_batch_size", 256)),
            labels=tuple(_text(x) for x in meta.get("labels", MNIST_LABELS)),
            value_range=None if value_range is None else (float(value_range[0]), float(value_range[1])),
            normalisation=_text(meta.get("normalisation", cls.normalisation)),
            precision=_text(meta.get("precision", "fp32")),
            provenance={k: meta[k] for k in PROVENANCE_KEYS if k in meta})

    def to_metadata(self) -> dict:
        """The metadata.json fields (without sha256, which needs the finished file)."""
        return {"name": self.name, "version": self.version, "inputs": [self.input.oip()],
                "outputs": [self.output.oip()], "input_format": self.input.format,
                "max_batch_size": self.max_batch_size, "labels": list(self.labels),
                "value_range": None if self.value_range is None else list(self.value_range),
                "normalisation": self.normalisation, "precision": self.precision, **self.provenance}


def _text(value: object) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _positive(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def _tensor(t: dict, fmt: object = None) -> TensorSpec:
    shape = t["shape"]
    if not isinstance(shape, list) or not shape or shape[0] != -1:
        raise ValueError(f"tensor {t.get('name')!r}: shape must start with -1 (the batch), got {shape!r}")
    dims = tuple(_positive(d) for d in shape[1:])
    if t["datatype"] not in DATATYPES:
        raise ValueError(f"tensor {t.get('name')!r}: unknown datatype {t['datatype']!r}")
    return TensorSpec(_text(t["name"]), t["datatype"], dims, _text(fmt) if fmt else "FORMAT_NONE")


def image_spec(name: str, version: str, **fields) -> ModelSpec:
    """The contract every kanserve classifier shares: FP32 images [N,1,28,28] in [0,1] -> FP32 logits [N,10]."""
    return ModelSpec(name, version, TensorSpec("images", "FP32", (1, 28, 28), "FORMAT_NCHW"),
                     TensorSpec("logits", "FP32", (10,)), **fields)


def validate(x: np.ndarray, spec: ModelSpec, *, max_batch_size: int, check_range: bool) -> np.ndarray:
    """`x` as the model's input: dtype, shape [N, *dims] with 1 <= N <= max_batch_size, finite values (and inside
    `spec.value_range` when `check_range`). Returns a C-contiguous array; raises ContractError."""
    t = spec.input
    if x.dtype != t.dtype:
        raise ContractError(f"input '{t.name}' must be {t.datatype}; got {x.dtype.name}")
    if x.ndim != 1 + len(t.dims) or x.shape[1:] != t.dims or not 1 <= x.shape[0] <= max_batch_size:
        dims = ",".join(map(str, t.dims))
        raise ContractError(f"input '{t.name}' must have shape [N,{dims}] with 1 <= N <= {max_batch_size}; "
                            f"got {list(x.shape)}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ContractError(f"input '{t.name}' values must be finite (no NaN or Infinity)")
    if check_range and spec.value_range is not None:
        low, high = spec.value_range
        if x.min() < low or x.max() > high:
            raise ContractError(f"input '{t.name}' values must be in [{low:g}, {high:g}]")
    return np.ascontiguousarray(x)


def triton_config(spec: ModelSpec, queue_delay_us: int, label_filename: str | None = "labels.txt") -> dict:
    """The Triton model configuration this contract implies (written as config.pbtxt; `/config` answers it)."""
    inp = {"name": spec.input.name, "data_type": f"TYPE_{spec.input.datatype}", "dims": list(spec.input.dims)}
    if spec.input.format != "FORMAT_NONE":
        inp["format"] = spec.input.format
    out = {"name": spec.output.name, "data_type": f"TYPE_{spec.output.datatype}", "dims": list(spec.output.dims)}
    if label_filename:
        out["label_filename"] = label_filename
    return {"name": spec.name, "platform": "onnxruntime_onnx", "max_batch_size": spec.max_batch_size,
            "version_policy": {"all": {}}, "input": [inp], "output": [out],
            "dynamic_batching": {"max_queue_delay_microseconds": queue_delay_us}}


def spec_from_triton(config: dict, version: str, labels: tuple[str, ...] | None, source: str) -> ModelSpec:
    """The contract of a plain Triton model (config.pbtxt, no metadata.json): no value range is known, so /v1
    checks only shape and finiteness."""
    try:
        inputs, outputs = config["input"], config["output"]
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError("kanserve serves models with one input and one output")
        batch = config.get("max_batch_size", 0)
        if batch < 1:
            raise ValueError("max_batch_size must be at least 1 (models without a batch dimension are not served)")
        (inp,), (out,) = inputs, outputs
        tensors = [TensorSpec(str(t["name"]), t["data_type"].removeprefix("TYPE_"),
                              tuple(_positive(d) for d in t["dims"]),
                              t.get("format", "FORMAT_NONE")) for t in (inp, out)]
        if any(t.datatype not in DATATYPES for t in tensors):
            raise ValueError(f"unsupported data type in {[t.datatype for t in tensors]}")
        return ModelSpec(str(config["name"]), version, *tensors, max_batch_size=batch,
                         labels=labels or tuple(str(i) for i in range(int(np.prod(tensors[1].dims)))),
                         value_range=None, normalisation="not recorded (a plain Triton model)",
                         precision=tensors[0].datatype.lower())
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ContractError(f"{source}: not a model kanserve can serve ({type(e).__name__}: {e})") from None
