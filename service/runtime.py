"""One onnxruntime session per model version: load, verify, warm up, run. No HTTP here."""
import logging
import re
import time
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from kanserve.contract import ContractError, ModelSpec, TensorSpec, validate
from kanserve.repository import ModelEntry
from service.gpu import gpu_providers, run_bound
from service.inference_stats import InferenceStats
from service.kan import Explainer, load_explainer

log = logging.getLogger("kanserve.runtime")
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
_ORT_STATUS = re.compile(r"\[ONNXRuntimeError\] : \d+ : (\w+)")
_ORT_TYPES = {"tensor(float)": "FP32", "tensor(float16)": "FP16", "tensor(double)": "FP64", "tensor(int8)": "INT8",
              "tensor(uint8)": "UINT8", "tensor(int32)": "INT32", "tensor(int64)": "INT64", "tensor(bool)": "BOOL"}


def requested_providers(provider: str) -> list[str | tuple[str, dict]]:
    """What to ask for: GPU providers (with their options) only where service.gpu found that they can load, since
    asking for one that cannot makes onnxruntime print errors on every session. The truth is still
    session.get_providers() after loading."""
    return [*gpu_providers(provider), "CPUExecutionProvider"]


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    # Explicit counts: default pools size to all cores per session and oversubscribe with two models + batchers.
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # the fallback warnings are reported by us, from get_providers()
    return opts


@dataclass
class ModelRuntime:
    """A loaded (or failed) model version. `ready` only after a warm-up run passed."""

    entry: ModelEntry
    spec: ModelSpec | None
    max_batch_size: int
    session: ort.InferenceSession | None = None
    provider: str | None = None
    ready: bool = False
    error: str | None = None
    warmup_ms: float | None = None
    seconds_per_image: float = float("inf")  # measured at warm-up (batch of 1); sizes the inline fast path
    stats: InferenceStats = field(default_factory=InferenceStats)
    kan: Explainer | None = None  # a KAN head's learned functions and explain graph, when export wrote them
    kan_error: str | None = None  # why they were named in metadata.json but could not be loaded

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def version(self) -> str:
        return self.entry.version

    def validate(self, x: np.ndarray, *, check_range: bool) -> np.ndarray:
        """The request tensor checked against this version's contract (ContractError -> 400)."""
        return validate(x, self.spec, max_batch_size=self.max_batch_size, check_range=check_range)

    def run(self, x: np.ndarray) -> np.ndarray:
        """x [N, *input dims] -> output [N, *output dims]; thread-safe (onnxruntime sessions are)."""
        if self.provider in GPU_PROVIDERS:
            return run_bound(self.session, self.spec.input.name, self.spec.output.name, x)
        return self.session.run([self.spec.output.name], {self.spec.input.name: x})[0]


def load_model(entry: ModelEntry, provider: str, intra_op_threads: int, max_batch_size: int) -> ModelRuntime:
    """Build and warm one session; failures are recorded on the runtime, never raised (other models still serve)."""
    limit = min(max_batch_size, entry.spec.max_batch_size) if entry.spec else max_batch_size
    rt = ModelRuntime(entry, entry.spec, limit, error=entry.error)
    if rt.error:
        return rt
    try:
        rt.session = ort.InferenceSession(str(entry.path), session_options(intra_op_threads),
                                          providers=requested_providers(provider))
        rt.provider = rt.session.get_providers()[0]
        if rt.spec is None:
            rt.spec = spec_from_session(entry, rt.session)
            rt.max_batch_size = min(max_batch_size, rt.spec.max_batch_size)
        _warm_up(rt)
        rt.kan, rt.kan_error = load_explainer(entry, lambda path: ort.InferenceSession(
            path, session_options(intra_op_threads), providers=requested_providers(provider)))
    except Exception as e:
        log.error("model failed to load", extra={"model": rt.name, "version": rt.version, "detail": str(e)[:2000]})
        rt.error = _client_reason(e)
    return rt


def spec_from_session(entry: ModelEntry, session: ort.InferenceSession) -> ModelSpec:
    """The contract of an ONNX file with neither metadata.json nor config.pbtxt, read from the graph (as Triton's
    auto-complete does): one input and one output, the first dimension the batch."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ContractError("kanserve serves models with one input and one output")
    tensors = []
    for t in (inputs[0], outputs[0]):
        dims = t.shape[1:]
        if t.type not in _ORT_TYPES or not all(isinstance(d, int) and d > 0 for d in dims):
            raise ContractError(f"tensor '{t.name}': type {t.type} or shape {t.shape} is not servable")
        tensors.append(TensorSpec(t.name, _ORT_TYPES[t.type], tuple(dims)))
    return ModelSpec(entry.name, entry.version, *tensors, labels=tuple(str(i) for i in range(tensors[1].dims[-1])),
                     value_range=None, normalisation="not recorded (a plain ONNX file)",
                     precision=tensors[0].datatype.lower())


def _client_reason(e: Exception) -> str:
    """A reason safe to show to clients: onnxruntime's messages carry absolute paths and C++ internals."""
    if isinstance(e, ContractError):
        return str(e)
    status = _ORT_STATUS.search(str(e))
    return f"onnxruntime could not load or run the model ({status.group(1) if status else type(e).__name__})"


def _warm_up(rt: ModelRuntime) -> None:
    """First runs allocate and optimise; readiness waits for them and checks the output against the contract."""
    x = np.zeros((1, *rt.spec.input.dims), rt.spec.input.dtype)
    t0 = time.perf_counter()
    out = rt.run(x)
    rt.warmup_ms = (time.perf_counter() - t0) * 1e3
    if out.shape != (1, *rt.spec.output.dims) or not np.isfinite(out).all():
        raise ContractError(f"warm-up produced {list(out.shape)} / non-finite outputs, not the contract's "
                            f"[1,{','.join(map(str, rt.spec.output.dims))}]")
    times = []
    for _ in range(5):
        t = time.perf_counter()
        rt.run(x)
        times.append(time.perf_counter() - t)
    rt.seconds_per_image = float(np.median(times))
    rt.ready = True


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
