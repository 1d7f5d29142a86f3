"""Shared measuring helpers for the benchmarks: round-robin timing, summaries, torch runners, machine facts."""
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np


def write_json(path: str | Path, obj: dict) -> None:
    """Write a report JSON (parents created, sorted keys, trailing newline)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def round_robin(jobs: dict[str, Callable[[], object]], runs: int | dict[str, int], warmup: int) -> dict[str,
                                                                                                        list[float]]:
    """Per-call wall times (ms) of every job, one call of each job per round so load drift hits all alike.

    `runs` may differ per job (fewer for the expensive ones): a job takes part in the first runs[job] rounds.
    """
    counts = runs if isinstance(runs, dict) else dict.fromkeys(jobs, runs)
    for fn in jobs.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {label: [] for label in jobs}
    for r in range(max(counts.values(), default=0)):
        for label, fn in jobs.items():
            if r < counts[label]:
                t0 = time.perf_counter()
                fn()
                times[label].append((time.perf_counter() - t0) * 1e3)
    return times


def summary(ms: list[float]) -> dict:
    """{n, median_ms, p10_ms, p90_ms, min_ms} of per-call times in ms."""
    a = np.asarray(ms, dtype=np.float64)
    p10, p50, p90 = np.percentile(a, [10, 50, 90])
    return {"n": int(a.size), "median_ms": float(p50), "p10_ms": float(p10), "p90_ms": float(p90),
            "min_ms": float(a.min())}


def torch_forward(model, x, device: str = "cpu") -> Callable[[], object]:
    """A no-argument call of model(x) under inference_mode; synchronised on CUDA so the time is the kernel's."""
    import torch

    model, x = model.to(device).eval(), x.to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def call():
        with torch.inference_mode():
            y = model(x)
        sync()
        return y

    return call


def ort_forward(session, x: np.ndarray) -> Callable[[], object]:
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "amx_tile") if f in flags]


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_info(threads: int) -> dict:
    """What the numbers were measured on: CPU model, cores, memory, library versions, load, git commit."""
    try:
        mem_kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                          if ln.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    import onnxruntime as ort
    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return {"cpu": cpu_model(), "cpu_flags": _cpu_flags(), "logical_cores": os.cpu_count(),
            "available_cores": len(os.sched_getaffinity(0)), "memory_gib": round(mem_kb / 2**20, 1),
            "threads": threads, "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": ort.__version__, "numpy": np.__version__, "onnx": _pkg("onnx"),
            "ort_providers_available": ort.get_available_providers(),
            "cuda_available": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_avg_start": list(os.getloadavg()), "git_commit": commit.stdout.strip() or "unknown"}
