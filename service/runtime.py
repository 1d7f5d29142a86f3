"""One onnxruntime session per model version: load, verify, warm up, run. No HTTP here."""
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from service.gpu import gpu_providers, run_bound
from service.repository import ModelEntry

log = logging.getLogger("kanserve.runtime")
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


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
    session: ort.InferenceSession | None = None
    provider: str | None = None
    ready: bool = False
    error: str | None = None
    input_name: str = "images"
    output_name: str = "logits"
    max_batch_size: int = 256
    warmup_ms: float | None = None
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def version(self) -> str:
        return self.entry.version

    def run(self, x: np.ndarray) -> np.ndarray:
        """x float32 [N,1,28,28] -> logits float32 [N,10]; thread-safe (onnxruntime sessions are)."""
        if self.provider in GPU_PROVIDERS:
            return run_bound(self.session, self.input_name, self.output_name, x)
        return self.session.run([self.output_name], {self.input_name: x})[0]


def load_model(entry: ModelEntry, provider: str, intra_op_threads: int, max_batch_size: int) -> ModelRuntime:
    """Build and warm one session; failures are recorded on the runtime, never raised (other models still serve)."""
    rt = ModelRuntime(entry, error=entry.error)
    rt.max_batch_size = min(max_batch_size, int(entry.metadata.get("max_batch_size") or max_batch_size))
    if rt.error:
        return rt
    try:
        rt.session = ort.InferenceSession(str(entry.path), session_options(intra_op_threads),
                                          providers=requested_providers(provider))
        rt.provider = rt.session.get_providers()[0]
        rt.input_name = rt.session.get_inputs()[0].name
        rt.output_name = rt.session.get_outputs()[0].name
        _warm_up(rt)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises many types; any of them means "not ready, why"
        rt.error = f"{type(e).__name__}: {str(e)[:300]}"
    return rt


def _warm_up(rt: ModelRuntime) -> None:
    """First run allocates and optimises; readiness waits for it and checks the output shape."""
    t0 = time.perf_counter()
    out = rt.run(np.zeros((1, 1, 28, 28), np.float32))
    if out.shape != (1, 10) or not np.isfinite(out).all():
        raise RuntimeError(f"warm-up produced {out.shape} / non-finite logits")
    rt.warmup_ms = (time.perf_counter() - t0) * 1e3
    rt.ready = True


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
