"""GPU benchmark for a CUDA host (bash bench/gpu.sh): the shipped models on onnxruntime's CUDA provider beside its CPU
provider, in one run, round-robin: raw bs=1 latency and bs=256 throughput (session.run and the service's IO-binding
path), the fp16 artifacts when a repository of them is given, and the HTTP overhead of `kanserve serve` on each
provider. Torch-free (the serving install + [cuda]). Writes reports/gpu.json and gpu.md (BENCHMARKS.md §5).

Run: python -m bench.gpu [--fp16-repository DIR] [--scale 1] [--out reports/gpu.json]   (--allow-cpu: smoke test)
"""
import argparse
import http.client
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.serving import free_port, start
from bench.timing import cpu_model, round_robin, summary, write_json
from service import gpu
from service.runtime import requested_providers, session_options
from service.stats import latency_summary

X1 = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)

REPS = {1: 400, 256: 40}


def _sessions(repo: Path, fp16_repo: Path | None, providers: list[str]) -> dict[str, ort.InferenceSession]:
    """label -> session, e.g. "fasterkan fp32 cuda", made as the service makes them (its providers and options);
    every NAME/VERSION/model.onnx of the repository, the fp16 versions from the fp16 repository."""
    sessions = {}
    for precision, root in (("fp32", repo), ("fp16", fp16_repo)):
        for path in sorted(root.glob("*/*/model.onnx")) if root else []:
            for provider in providers:
                sessions[f"{path.parts[-3]} {precision} {provider}"] = ort.InferenceSession(
                    str(path), session_options(1), providers=requested_providers(provider))
    return sessions


def raw(sessions: dict, scale: float) -> list[dict]:
    """Per (session, batch, path): time per call. path "io-binding" is what the service runs on CUDA
    (service.gpu.run_bound); "session.run" is the plain numpy-in, numpy-out call."""
    rng, jobs, reps, meta = np.random.default_rng(0), {}, {}, {}
    for label, sess in sessions.items():
        provider, names = sess.get_providers()[0], (sess.get_inputs()[0].name, sess.get_outputs()[0].name)
        for batch, n in REPS.items():
            x = rng.random((batch, 1, 28, 28), dtype=np.float32)
            paths = {"session.run": lambda s=sess, x=x, i=names[0]: s.run(None, {i: x})}
            if provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
                paths["io-binding"] = lambda s=sess, x=x, io=names: gpu.run_bound(s, *io, x)
            for path, fn in paths.items():
                key = f"{label}|{batch}|{path}"
                jobs[key], reps[key], meta[key] = fn, max(3, round(n * scale)), (label, provider, batch, path)
    rows = []
    for key, times in round_robin(jobs, reps, warmup=10).items():
        label, provider, batch, path = meta[key]
        s = summary(times)
        rows.append({"model": label.split()[0], "precision": label.split()[1], "provider": provider,
                     "batch": batch, "path": path, **s, "images_per_s": batch / (s["median_ms"] / 1e3)})
    return rows


def _serve(repo: Path, provider: str) -> tuple[subprocess.Popen, int]:
    """`kanserve serve` on a free loopback port with one provider; returns once /v2/health/ready is 200."""
    port = free_port()
    env = {"KANSERVE_PROVIDER": provider, "KANSERVE_REQUIRE_CUDA": str(provider == "cuda").lower(),
           "KANSERVE_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "kanserve.cli", "serve", "--port", str(port), "--model-repository", str(repo)]
    return start(cmd, env, port, ready_path="/v2/health/ready"), port


def _infer_loop(port: int, name: str, n: int) -> list[float]:
    """n sequential /v2 binary bs=1 requests on one keep-alive connection; seconds each."""
    head = json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                   "parameters": {"binary_data_size": X1.nbytes}}]}).encode()
    headers = {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}
    conn, samples = http.client.HTTPConnection("127.0.0.1", port), []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", f"/v2/models/{name}/infer", head + X1.tobytes(), headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"/v2/models/{name}/infer answered {resp.status}")
        samples.append(time.perf_counter() - t)
    conn.close()
    return samples


def http_overhead(repo: Path, provider: str, n: int) -> dict:
    """bs=1 over loopback (/v2 binary, one client) against `kanserve serve` on one provider."""
    proc, port = _serve(repo, provider)
    try:
        names = sorted({p.parts[-3] for p in repo.glob("*/*/model.onnx")})
        return {name: latency_summary(_infer_loop(port, name, n + 50)[50:]) for name in names}
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
    result["raw"] = raw(_sessions(repo, fp16_repo, providers), scale)
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
    for model, precision, provider, path in sorted({(*k[:3], k[4]) for k in find}):
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
