"""Can this process use the GPU? Decided before any session asks for CUDA, and said once, with the reason and the fix.

onnxruntime-gpu lists CUDAExecutionProvider as available even where it cannot load it; a session that asks for it
then prints an error and a warning to stderr (its own logger, not ours) and quietly runs on the CPU. So the service
asks for CUDA only when everything the CUDA provider loads is there: the NVIDIA driver with a device, and the CUDA
and cuDNN libraries (from the `[cuda]` extra, preloaded with onnxruntime.preload_dlls(), or the system's).
"""
import contextlib
import ctypes
import functools
import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

log = logging.getLogger("kanserve.gpu")
CUDA_EP, TENSORRT_EP = "CUDAExecutionProvider", "TensorrtExecutionProvider"
LIBS_FIX = "pip install 'kanserve[cuda]' (CUDA 13 and cuDNN 9 from PyPI; no LD_LIBRARY_PATH needed)"
DRIVER_FIX = "install the NVIDIA driver >= 580 (CUDA 13) and, in a container, run it with the GPU (--gpus all)"
BUILD_FIX = "pip install onnxruntime-gpu==1.31.1 in place of onnxruntime (kanserve's default on Linux x86_64/aarch64)"
# Options of the CUDA provider that matter for a server (onnxruntime's CUDA EP documentation):
CUDA_OPTIONS = {
    "device_id": "0",
    # Dynamic batching sends every batch size from 1 to max_batch_size. EXHAUSTIVE (the default) benchmarks all
    # cuDNN conv algorithms again for each new input shape, stalling the first request of every size; HEURISTIC
    # takes cuDNN's own pick at no run-time cost.
    "cudnn_conv_algo_search": "HEURISTIC",
    # Grow the memory arena by what a run needs, not to the next power of two: with shapes that change with the
    # batch, doubling reserves up to twice the largest batch's memory, per model.
    "arena_extend_strategy": "kSameAsRequested",
    # Copies on the compute stream (the default, explicit: separate streams may race, onnxruntime issue 4829).
    "do_copy_in_default_stream": "1",
}
TENSORRT_OPTIONS = {"device_id": "0", "trt_engine_cache_enable": "True",
                    "trt_engine_cache_path": "/tmp/kanserve-trt-cache"}


@dataclass(frozen=True)
class GpuStatus:
    """`usable`: the CUDA provider can be created here. `detail`: the device, or every reason why not."""

    usable: bool
    detail: str
    fix: str | None = None
    tensorrt: bool = False


def _load(name: str) -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _cuda_libraries() -> list[str]:
    """Sonames the CUDA provider links (its ELF NEEDED entries) plus cuDNN, which it loads for Conv."""
    major = (getattr(ort, "cuda_version", "") or "13").split(".")[0]
    return [f"libcudart.so.{major}", f"libcublasLt.so.{major}", f"libcublas.so.{major}", "libcurand.so.10",
            "libcudnn.so.9"]


def _preload() -> None:
    """Load the [cuda] extra's libraries by path, so the provider finds them without LD_LIBRARY_PATH.

    preload_dlls() print()s each library it cannot find (a host without the extra is normal), so it is muted;
    what is missing is reported by _missing_libraries() instead."""
    if hasattr(ort, "preload_dlls"):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ort.preload_dlls()


def _missing_libraries() -> list[str]:
    _preload()
    return [name for name in _cuda_libraries() if _load(name) is None]


def _device() -> tuple[str | None, str | None]:
    """(device name, None) or (None, why not), from the driver API itself, as the CUDA provider will see it."""
    cuda = _load("libcuda.so.1")
    if cuda is None:
        return None, "no NVIDIA driver (libcuda.so.1 not found)"
    if (rc := cuda.cuInit(0)) != 0:
        return None, f"the NVIDIA driver sees no usable device (cuInit error {rc})"
    version, count = ctypes.c_int(0), ctypes.c_int(0)
    cuda.cuDriverGetVersion(ctypes.byref(version))
    needed = int((getattr(ort, "cuda_version", "") or "13").split(".")[0]) * 1000
    if version.value < needed:
        got = f"{version.value // 1000}.{version.value % 1000 // 10}"
        return None, f"the NVIDIA driver supports CUDA {got}, onnxruntime {ort.__version__} needs CUDA {needed // 1000}"
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return None, "the NVIDIA driver sees no CUDA device"
    name = ctypes.create_string_buffer(256)
    cuda.cuDeviceGetName(name, len(name), 0)
    return name.value.decode(errors="replace"), None


@functools.cache
def status() -> GpuStatus:
    """Probe once per process (loads the CUDA libraries when present; costs ~0.1 s where they are absent)."""
    if CUDA_EP not in ort.get_available_providers():
        return GpuStatus(False, "this onnxruntime build has no CUDA provider (the CPU-only package)", BUILD_FIX)
    device, why_not = _device()
    missing = _missing_libraries()
    problems = ([why_not] if why_not else []) + ([f"CUDA libraries not found: {', '.join(missing)}"] if missing else [])
    if problems:
        fixes = ([DRIVER_FIX] if why_not else []) + ([LIBS_FIX] if missing else [])
        return GpuStatus(False, "; ".join(problems), "; ".join(fixes))
    tensorrt = TENSORRT_EP in ort.get_available_providers() and all(
        _load(lib) for lib in ("libnvinfer.so.10", "libnvonnxparser.so.10"))
    return GpuStatus(True, device, tensorrt=tensorrt)


@functools.cache
def _announce(requested: str) -> None:
    """One log line per process and request, never one per model or session."""
    s = status()
    if s.usable and requested == "tensorrt" and not s.tensorrt:
        log.warning("TensorRT unavailable, serving on CUDA", extra={
            "device": s.detail, "reason": "libnvinfer.so.10 / libnvonnxparser.so.10 not found",
            "fix": "pip install tensorrt-cu13 (TensorRT 10) or use KANSERVE_PROVIDER=cuda"})
    elif s.usable:
        log.info("GPU available", extra={"device": s.detail, "tensorrt": s.tensorrt})
    else:
        level = logging.WARNING if requested in ("cuda", "tensorrt") else logging.INFO
        log.log(level, "GPU unavailable, serving on CPU", extra={"reason": s.detail, "fix": s.fix})


def gpu_providers(requested: str) -> list[tuple[str, dict]]:
    """The GPU providers (with options) to ask onnxruntime for, best first; [] when none can load here."""
    if requested == "cpu":
        return []
    _announce(requested)
    s = status()
    if not s.usable:
        return []
    trt = [(TENSORRT_EP, TENSORRT_OPTIONS)] if requested == "tensorrt" and s.tensorrt else []
    return [*trt, (CUDA_EP, CUDA_OPTIONS)]


def run_bound(session: ort.InferenceSession, input_name: str, output_name: str, x: np.ndarray) -> np.ndarray:
    """One run on a GPU session with IO binding: the output is allocated on the device from the session's arena and
    copied back once, instead of onnxruntime allocating host outputs per run. A binding per call: bindings are not
    thread-safe, sessions are."""
    binding = session.io_binding()
    binding.bind_cpu_input(input_name, np.ascontiguousarray(x))
    binding.bind_output(output_name, "cuda")
    session.run_with_iobinding(binding)
    return binding.copy_outputs_to_cpu()[0]
