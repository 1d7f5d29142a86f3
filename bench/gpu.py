"""GPU benchmark for a CUDA host: the same measurements as bench/model_latency.py and bench/family.py with torch on
CUDA (synchronised after every call) and onnxruntime's CUDA execution provider (and TensorRT's, when available),
written to reports/gpu.json, which `kanserve bench` renders as its GPU section.

Run: bash bench/gpu.sh   (or python -m bench.gpu [--scale 1] [--out reports/gpu.json])
onnxruntime times include the host<->device copies of inputs and outputs (numpy in, numpy out), as a server sees them.
"""
import argparse
import time
from pathlib import Path

from bench.timing import write_json

CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]
TENSORRT = [("TensorrtExecutionProvider", {"trt_engine_cache_enable": True,
                                           "trt_engine_cache_path": "/tmp/kanserve-trt-cache"}), *CUDA]


def providers_to_run(available: list[str], allow_cpu: bool) -> dict[str, list]:
    if allow_cpu and "CUDAExecutionProvider" not in available:
        return {"cpu (smoke test)": ["CPUExecutionProvider"]}
    runs = {"onnxruntime CUDA EP": CUDA}
    if "TensorrtExecutionProvider" in available:
        runs["onnxruntime TensorRT EP"] = TENSORRT
    return runs


def measure(repo: Path, scale: float, device: str, allow_cpu: bool) -> dict:
    import onnxruntime as ort

    from bench import family, model_latency
    from bench.timing import machine_info

    result = {"machine": machine_info(1), "model_latency": {}, "durations_s": {}}
    for label, providers in providers_to_run(ort.get_available_providers(), allow_cpu).items():
        t0 = time.perf_counter()
        result["model_latency"][label] = model_latency.measure(repo, 1, scale, device=device, providers=providers)
        result["durations_s"][label] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    result["family"] = family.measure(1, max(3, round(200 * scale)), max(10, round(1000 * scale)), device=device)
    result["durations_s"]["family"] = round(time.perf_counter() - t0, 1)
    return result


def main(argv: list[str] | None = None) -> dict:
    import torch

    p = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    p.add_argument("--scale", type=float, default=1.0, help="multiply the repetition counts")
    p.add_argument("--out", type=Path, default=Path("reports/gpu.json"))
    p.add_argument("--allow-cpu", action="store_true", help="smoke-test this script without a GPU")
    args = p.parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        raise SystemExit("torch sees no CUDA device: run this on a GPU host with a CUDA build of torch")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = measure(args.model_repository, args.scale, device, args.allow_cpu)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    print(f"wrote {args.out} ({', '.join(f'{k} {v:.0f} s' for k, v in result['durations_s'].items())})")
    return result


if __name__ == "__main__":
    main()
