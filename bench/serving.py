"""Serving benchmark: raw session.run vs HTTP (uvicorn on 127.0.0.1) vs in-process ASGI, side by side in one run.

python -m bench.serving --model-repository model_repository [--requests 300] [--out reports/serving.json]
Per model: raw bs=1 p50; one client over loopback bs=1 (/v2 binary and /v1 JSON) p50 and its ratio to raw;
16 concurrent clients (single images) throughput vs a sequential raw bs=1 loop; in-process ASGI with and
without dynamic batching at concurrency 1/4/16/64. Counts are bounded; the server binds 127.0.0.1 only.
"""
import argparse
import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from bench.timing import write_json
from kanserve.repository import scan
from service.runtime import load_model
from service.settings import available_cores
from service.stats import latency_summary

X1 = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)


def raw(repo: Path, name: str, n: int, threads: int) -> dict:
    entry = next(e for e in scan(repo) if e.name == name)
    rt = load_model(entry, "cpu", threads, 256)
    for _ in range(20):
        rt.run(X1)
    samples = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        rt.run(X1)
        samples.append(time.perf_counter() - t)
    return {**latency_summary(samples), "throughput_per_s": n / (time.perf_counter() - t0)}


def _v2_request(name: str) -> tuple[str, bytes, dict]:
    head = json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                   "parameters": {"binary_data_size": X1.nbytes}}]}).encode()
    headers = {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}
    return f"/v2/models/{name}/infer", head + X1.tobytes(), headers


def _v1_request(name: str) -> tuple[str, bytes, dict]:
    body = json.dumps({"images": (X1[0, 0] * 255).astype(int).tolist()}).encode()
    return f"/v1/models/{name}/predict", body, {"Content-Type": "application/json"}


def http_client(port: int, req: tuple, n: int, out: list[float]) -> None:
    path, body, headers = req
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", path, body, headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
        out.append(time.perf_counter() - t)
    conn.close()


def http_floor(port: int, n: int) -> dict:
    """The framework's own round trip (GET /v2/health/live, no model): what HTTP costs before any inference."""
    samples: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(n + 20):
        t = time.perf_counter()
        conn.request("GET", "/v2/health/live")
        conn.getresponse().read()
        if i >= 20:
            samples.append(time.perf_counter() - t)
    conn.close()
    return latency_summary(samples)


def http_concurrent(port: int, req: tuple, clients: int, per_client: int) -> dict:
    http_client(port, req, 10, [])  # warm-up
    samples: list[float] = []
    threads = [threading.Thread(target=http_client, args=(port, req, per_client, samples)) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**latency_summary(samples), "throughput_per_s": len(samples) / (time.perf_counter() - t0), "clients": clients}


def start_server(repo: Path, env: dict) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "kanserve.cli", "serve", "--port", str(port), "--model-repository", str(repo)]
    proc = subprocess.Popen(cmd, env={**os.environ, "KANSERVE_LOG_LEVEL": "warning", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become ready")


async def asgi_level(app, name: str, concurrency: int, total: int) -> dict:
    import httpx

    path, body, headers = _v2_request(name)
    samples: list[float] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://asgi") as client:
        async def worker(k: int):
            for _ in range(k):
                t = time.perf_counter()
                r = await client.post(path, content=body, headers=headers)
                assert r.status_code == 200, r.text
                samples.append(time.perf_counter() - t)

        await asyncio.gather(*(worker(5) for _ in range(concurrency)))  # warm-up
        samples.clear()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(max(1, total // concurrency)) for _ in range(concurrency)))
    return {**latency_summary(samples), "throughput_per_s": len(samples) / (time.perf_counter() - t0)}


async def asgi_sweep(repo: Path, names: list[str], delay_us: int, total: int) -> dict:
    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(model_repository=repo, max_queue_delay_us=delay_us))
    async with app.router.lifespan_context(app):
        return {name: {c: await asgi_level(app, name, c, total) for c in (1, 4, 16, 64)} for name in names}


def measure(repo: Path, n: int) -> dict:
    names = sorted({e.name for e in scan(repo)})
    threads = max(1, available_cores() // len(names))  # the server's default split
    proc, port = start_server(repo, {})
    results = {"cores": available_cores(), "intra_op_threads": threads, "models": {}}
    try:
        results["http_floor_get_live"] = http_floor(port, n)
        for name in names:
            r = {"raw_bs1": raw(repo, name, n, threads)}
            for label, req in (("http_v2_binary_bs1", _v2_request(name)), ("http_v1_json_bs1", _v1_request(name))):
                http_client(port, req, 20, [])
                samples: list[float] = []
                http_client(port, req, n, samples)
                r[label] = latency_summary(samples)
            r["http_16_clients"] = http_concurrent(port, _v2_request(name), 16, max(4, n // 16))
            results["models"][name] = r
    finally:
        proc.terminate()
        proc.wait(30)
    for label, delay in (("asgi_batching", 500), ("asgi_no_batching", 0)):
        sweep = asyncio.run(asgi_sweep(repo, names, delay, n))
        for name in names:
            results["models"][name][label] = sweep[name]
    return results


def table(results: dict) -> str:
    rows = [f"cores={results['cores']} intra_op_threads={results['intra_op_threads']}",
            f"{'model':<10} {'metric':<44} {'value':>12}"]
    for name, r in results["models"].items():
        raw_p50, raw_tp = r["raw_bs1"]["p50_ms"], r["raw_bs1"]["throughput_per_s"]
        c16 = r["http_16_clients"]
        lines = [("raw session.run bs=1 p50 ms", raw_p50), ("raw sequential bs=1 images/s", raw_tp),
                 ("HTTP 1 client /v2 binary p50 ms", r["http_v2_binary_bs1"]["p50_ms"]),
                 ("  ratio to raw (target <= 1.5)", r["http_v2_binary_bs1"]["p50_ms"] / raw_p50),
                 ("HTTP 1 client /v1 JSON p50 ms", r["http_v1_json_bs1"]["p50_ms"]),
                 ("  ratio to raw", r["http_v1_json_bs1"]["p50_ms"] / raw_p50),
                 ("HTTP 16 clients images/s", c16["throughput_per_s"]),
                 ("  vs raw sequential (target >= 1.3)", c16["throughput_per_s"] / raw_tp),
                 ("  p99/p50 (target <= 4)", c16["p99_ms"] / c16["p50_ms"])]
        for label in ("asgi_batching", "asgi_no_batching"):
            for c, v in r[label].items():
                lines.append((f"{label} c={c} images/s | p50 ms", f"{v['throughput_per_s']:.0f} | {v['p50_ms']:.3f}"))
        rows += [f"{name:<10} {m:<44} {v if isinstance(v, str) else f'{v:.3f}':>12}" for m, v in lines]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    p.add_argument("--requests", type=int, default=300, help="requests per measurement (bounded)")
    p.add_argument("--out", type=Path, default=Path("reports/serving.json"))
    args = p.parse_args(argv)
    results = measure(args.model_repository, min(args.requests, 5000))
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
