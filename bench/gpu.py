"""GPU benchmark for a CUDA host (bash bench/gpu.sh): the shipped models on onnxruntime's CUDA provider beside its CPU
provider, in one run, round-robin: raw bs=1 latency and bs=256 throughput (session.run and the service's IO-binding
path), the fp16 artifacts when a repository of them is given, and the HTTP overhead of `kanserve serve` on each
provider. Torch-free (the serving install + [cuda]). Writes reports/gpu.json and gpu.md, BENCHMARKS.md §5 (`section()`).

Run: python -m bench.gpu [--fp16-repository DIR] [--scale 1] [--out reports/gpu.json]   (--allow-cpu: smoke test)
"""
import argparse
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.serving import _v2_request, http_client, start_server
from bench.timing import cpu_model, round_robin, summary, write_json
from service import gpu
from service.repository import scan
from service.runtime import load_model
from service.stats import latency_summary

REPS = {1: 400, 256: 40}


def _runtimes(repo: Path, fp16_repo: Path | None, providers: list[str]) -> dict[str, object]:
    """label -> ModelRuntime, e.g. "fasterkan fp32 cuda"; fp16 versions from the fp16 repository."""
    runtimes = {}
    for precision, root in (("fp32", repo), ("fp16", fp16_repo)):
        for entry in scan(root) if root else []:
            for provider in providers:
                rt = load_model(entry, provider, 1, 256)
                if not rt.ready:
                    raise RuntimeError(f"{entry.name} {precision} on {provider}: {rt.error}")
                runtimes[f"{entry.name} {precision} {provider}"] = rt
    return runtimes


def raw(runtimes: dict, scale: float) -> list[dict]:
    """Per (runtime, batch, path): time per call. path "io-binding" is what the service runs on CUDA
    (ModelRuntime.run); "session.run" is the plain numpy-in, numpy-out call."""
    rng, jobs, reps, meta = np.random.default_rng(0), {}, {}, {}
    for label, rt in runtimes.items():
        for batch, n in REPS.items():
            x = rng.random((batch, 1, 28, 28), dtype=np.float32)
            paths = {"session.run": lambda rt=rt, x=x: rt.session.run(None, {rt.input_name: x})}
            if rt.provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
                paths["io-binding"] = lambda rt=rt, x=x: rt.run(x)
            for path, fn in paths.items():
                key = f"{label}|{batch}|{path}"
                jobs[key], reps[key], meta[key] = fn, max(3, round(n * scale)), (label, rt, batch, path)
    rows = []
    for key, times in round_robin(jobs, reps, warmup=10).items():
        label, rt, batch, path = meta[key]
        s = summary(times)
        rows.append({"model": label.split()[0], "precision": label.split()[1], "provider": rt.provider,
                     "batch": batch, "path": path, **s, "images_per_s": batch / (s["median_ms"] / 1e3)})
    return rows


def http_overhead(repo: Path, provider: str, n: int) -> dict:
    """bs=1 over loopback (/v2 binary, one client) against `kanserve serve` on one provider."""
    env = {"KANSERVE_PROVIDER": provider, "KANSERVE_REQUIRE_CUDA": str(provider == "cuda").lower()}
    proc, port = start_server(repo, env)
    try:
        out = {}
        for name in sorted({e.name for e in scan(repo)}):
            req, samples = _v2_request(name), []
            http_client(port, req, 50, [])
            http_client(port, req, n, samples)
            out[name] = latency_summary(samples)
        return out
    finally:
        proc.terminate()
        proc.wait(30)


def measure(repo: Path, fp16_repo: Path | None, scale: float, allow_cpu: bool) -> dict:
    status = gpu.status()
    if not status.usable and not allow_cpu:
        raise SystemExit(f"no usable CUDA: {status.detail} ({status.fix})")
    providers = ["cpu", "cuda"] if status.usable else ["cpu"]
    t0 = time.perf_counter()
    result = {"machine": {"gpu": status.detail if status.usable else None, "cpu": cpu_model(),
                          "onnxruntime": ort.__version__, "python": platform.python_version(),
                          "ort_providers_available": ort.get_available_providers(), "cuda_options": gpu.CUDA_OPTIONS},
              "smoke_test": not status.usable, "reps": REPS, "scale": scale}
    result["raw"] = raw(_runtimes(repo, fp16_repo, providers), scale)
    n = max(20, round(300 * scale))
    result["http"] = {p: http_overhead(repo, p, n) for p in providers}
    result["duration_s"] = round(time.perf_counter() - t0, 1)
    return result


def _row(r: dict | None, key: str, fmt: str) -> str:
    return format(r[key], fmt) if r else "—"


def section(g: dict) -> list[str]:
    """BENCHMARKS.md §5 from gpu.json: per model, CPU beside CUDA (and fp16), then HTTP over the raw call."""
    m = g["machine"]
    lines = ["## 5. GPU", "", (f"GPU: {m['gpu'] or 'none (smoke test on CPU: no GPU numbers)'}; CPU: {m['cpu']}; "
                               f"onnxruntime {m['onnxruntime']}; CUDA provider options {m['cuda_options']}; written "
                               f"by bench/gpu.sh in {g['duration_s']:.0f} s. Raw = one model, one caller, "
                               "round-robin over every variant; median (p90) per call."), ""]
    find = {(r["model"], r["precision"], r["provider"], r["batch"], r["path"]): r for r in g["raw"]}
    lines += ["| model | precision | provider | path | bs=1 median (p90) ms | bs=256 images/s |",
              "|---|---|---|---|---|---|"]
    for model, precision, provider, path in sorted({k[:3] + (k[4],) for k in find}):
        r1, r256 = find.get((model, precision, provider, 1, path)), find.get((model, precision, provider, 256, path))
        lines.append(f"| {model} | {precision} | {provider} | {path} | {_row(r1, 'median_ms', '.3f')} "
                     f"({_row(r1, 'p90_ms', '.3f')}) | {_row(r256, 'images_per_s', ',.0f')} |")
    lines += ["", ("HTTP (`kanserve serve`, /v2 binary, bs=1, one client over loopback) against the raw call the "
                   "server makes (io-binding on CUDA, session.run on CPU):"), "",
              "| model | provider | HTTP p50 ms | raw p50 ms | HTTP overhead ms | ratio |", "|---|---|---|---|---|---|"]
    for provider, models in g["http"].items():
        ep = "CUDAExecutionProvider" if provider == "cuda" else "CPUExecutionProvider"
        for model, h in models.items():
            path = "io-binding" if provider == "cuda" else "session.run"
            raw1 = find.get((model, "fp32", ep, 1, path))
            ratio = f"{h['p50_ms'] / raw1['median_ms']:.2f}×" if raw1 else "—"
            over = f"{h['p50_ms'] - raw1['median_ms']:.3f}" if raw1 else "—"
            lines.append(f"| {model} | {provider} | {h['p50_ms']:.3f} | {_row(raw1, 'median_ms', '.3f')} | {over} "
                         f"| {ratio} |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    p.add_argument("--fp16-repository", type=Path, default=None, help="fp16 exports of the same models")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the repetition counts")
    p.add_argument("--out", type=Path, default=Path("reports/gpu.json"))
    p.add_argument("--allow-cpu", action="store_true", help="smoke-test this script without a GPU")
    args = p.parse_args(argv)
    result = measure(args.model_repository, args.fp16_repository, args.scale, args.allow_cpu)
    write_json(args.out, result)
    md = "\n".join(section(result))
    args.out.with_suffix(".md").write_text(md + "\n")
    print(f"{md}\nwrote {args.out} and {args.out.with_suffix('.md')} ({result['duration_s']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
