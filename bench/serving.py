"""Serving benchmark: kanserve vs the endpoint a user would write instead, driven by wrk, side by side in one run.

python -m bench.serving --model-repository model_repository [--seconds 3] [--rounds 3] [--out reports/serving.json]
Per model, the same OIP-shaped JSON body with one image, wrk (a C load generator: the client barely competes for
the cores) with 1 connection and with 16, reporting p50/p90/p99 and requests/s. All servers run at once on
127.0.0.1 and are measured one at a time, interleaved in rounds, so a ratio is taken between runs minutes apart.
Servers: kanserve with its defaults, kanserve without dynamic batching, kanserve's app under granian (if installed),
and the minimal FastAPI endpoint of bench/peers/minimal_fastapi.py. Also: raw `session.run` bs=1 in a loop,
kanserve's /v2 binary body at 1 connection, and the HTTP floor (GET /v2/health/live).
"""
import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.timing import write_json
from kanserve.repository import scan
from service.runtime import load_model
from service.settings import available_cores
from service.stats import latency_summary

X1 = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
WRK_SCRIPT = """
wrk.method = "%(method)s"
%(headers)s
local f = io.open("%(body)s", "rb"); wrk.body = f:read("*a"); f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %%d, "seconds": %%.6f, "socket_errors": %%d, "non_2xx": %%d, ' ..
    '"p50_ms": %%.4f, "p90_ms": %%.4f, "p99_ms": %%.4f, "mean_ms": %%.4f, "max_ms": %%.4f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.mean / 1e3, latency.max / 1e3))
end
"""


def json_body() -> bytes:
    return json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                   "data": X1.ravel().tolist()}]}).encode()


def binary_body() -> tuple[bytes, dict]:
    head = json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                   "parameters": {"binary_data_size": X1.nbytes}}],
                       "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
    return head + X1.tobytes(), {"Inference-Header-Content-Length": str(len(head)),
                                 "Content-Type": "application/octet-stream"}


def wrk(url: str, connections: int, seconds: float, tmp: Path, body: bytes | None = None,
        headers: dict | None = None) -> dict:
    """One wrk run (1 thread); its latency percentiles and throughput."""
    body_file = tmp / "body.bin"
    body_file.write_bytes(body or b"")
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    script = tmp / "run.lua"
    script.write_text(WRK_SCRIPT % {"method": "POST" if body else "GET", "headers": lines, "body": body_file})
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s",
                          str(script),
                          url], capture_output=True, text=True, check=True).stdout
    result = json.loads(next(line[4:] for line in out.splitlines() if line.startswith("WRK ")))
    return {**result, "connections": connections, "requests_per_s": result["requests"] / result["seconds"]}


def raw(repo: Path, name: str, seconds: float, threads: int) -> dict:
    entry = next(e for e in scan(repo) if e.name == name and e.spec and e.spec.precision == "fp32")
    rt = load_model(entry, "cpu", threads, 256)
    for _ in range(50):
        rt.run(X1)
    samples, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        rt.run(X1)
        samples.append(time.perf_counter() - t)
    return {**latency_summary(samples), "requests_per_s": len(samples) / (time.perf_counter() - t0)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, port: int, ready_path: str = "/docs") -> subprocess.Popen:
    """Start a server on 127.0.0.1:`port`; returns once GET `ready_path` answers 200 (/docs: every FastAPI app)."""
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:3]} exited with {proc.returncode} during startup")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", ready_path)
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd[:3]} did not become ready")


def servers(repo: Path, threads: int) -> dict[str, callable]:
    """name -> (model -> (command, env)); each server is started once per model it is measured on."""
    kanserve = [sys.executable, "-m", "kanserve.cli", "serve", "--model-repository", str(repo), "--port"]
    env = {"KANSERVE_INTRA_OP_THREADS": str(threads)}
    found = {
        "kanserve": lambda model, port: ([*kanserve, str(port)], env),
        "kanserve_no_batching": lambda model, port: ([*kanserve, str(port)],
                                                     {**env, "KANSERVE_MAX_QUEUE_DELAY_US": "0"}),
        "minimal_fastapi": lambda model, port: (
            [sys.executable, "-m", "uvicorn", "bench.peers.minimal_fastapi:app", "--port", str(port),
             "--no-access-log", "--log-level", "warning"],
            {"PEER_MODEL": str(repo / model / "1" / "model.onnx"), "PEER_THREADS": str(threads)}),
    }
    granian = shutil.which("granian") or str(Path(sys.executable).parent / "granian")
    if Path(granian).exists():
        found["kanserve_granian"] = lambda model, port: (
            [granian, "--interface", "asgi", "--factory", "--loop", "uvloop", "--workers", "1", "--port", str(port),
             "--log-level", "warning", "service.app:create_app"],
            {**env, "KANSERVE_MODEL_REPOSITORY": str(repo)})
    return found


def _median_run(runs: list[dict]) -> dict:
    """One summary of repeated wrk runs: the median of each figure over the rounds."""
    keys = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "requests_per_s")
    return {**{k: float(np.median([r[k] for r in runs])) for k in keys}, "rounds": len(runs),
            "requests": sum(r["requests"] for r in runs), "socket_errors": sum(r["socket_errors"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs)}


def _spread(values: list[float]) -> dict:
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values)), "n": len(values)}


def targets(runs: dict, raw_p50_ms: float) -> dict:
    """The request-path figures, each a ratio taken within one round (the two servers measured minutes apart at
    most), then summarised over the rounds: robust to load that changes during the run."""
    ks, peer = runs["kanserve"], runs["minimal_fastapi"]
    return {"c1_ratio": _spread([k["p50_ms"] / p["p50_ms"] for k, p in zip(ks["c1"], peer["c1"], strict=True)]),
            "c16_gain": _spread([k["requests_per_s"] / p["requests_per_s"] for k, p in zip(ks["c16"], peer["c16"],
                                                                                           strict=True)]),
            "tail": _spread([k["p99_ms"] / k["p50_ms"] for k in ks["c16"]]),
            "binary_ratio": _spread([k["p50_ms"] / raw_p50_ms for k in ks["c1_binary"]])}


def measure(repo: Path, seconds: float, rounds: int, only: set[str] | None = None) -> dict:
    """Every server up at once, each idle while another is measured; `rounds` rounds, in each of which every server
    gets its c=1 and c=16 run in a fresh random order. `only`: a subset of the servers (kanserve and the minimal
    endpoint always, the targets compare them)."""
    names, threads = ["mlp", "fasterkan"], 1
    results = {"cores": available_cores(), "intra_op_threads": threads, "seconds_per_run": seconds, "rounds": rounds,
               "body_bytes": len(json_body()), "order": "interleaved: every server once per round, random order",
               "models": {n: {"raw_bs1": raw(repo, n, seconds, threads), "servers": {}} for n in names}}
    with tempfile.TemporaryDirectory(prefix="kanserve-wrk-") as tmp, contextlib.ExitStack() as stack:
        tmp, urls = Path(tmp), {}
        for server, launch in servers(repo, threads).items():
            if only and server not in only | {"kanserve", "minimal_fastapi"}:
                continue
            for model in names if server == "minimal_fastapi" else [None]:  # the peer serves one model per process
                port = free_port()
                proc = start(*launch(model or names[0], port), port)
                stack.callback(_stop, proc)
                urls.update({(server, n): f"http://127.0.0.1:{port}" for n in ([model] if model else names)})
        keys = list(urls)
        runs = {key: {"c1": [], "c16": [], "c1_binary": []} for key in keys}
        for server, name in keys:
            wrk(f"{urls[server, name]}/v2/models/{name}/infer", 16, 1, tmp, json_body())  # warm-up
        rng = np.random.default_rng(0)
        for r in range(rounds):
            for kind, connections in (("c1", 1), ("c16", 16)):
                for i in rng.permutation(len(keys)):
                    server, name = keys[i]
                    url = f"{urls[server, name]}/v2/models/{name}/infer"
                    runs[server, name][kind].append(wrk(url, connections, seconds, tmp, json_body()))
            for name in names:
                runs["kanserve", name]["c1_binary"].append(
                    wrk(f"{urls['kanserve', name]}/v2/models/{name}/infer", 1, seconds, tmp, *binary_body()))
            print(f"round {r + 1}/{rounds} done", flush=True)
        results["http_floor"] = wrk(f"{urls['kanserve', names[0]]}/v2/health/live", 1, seconds, tmp)
    for name in names:
        by_server = {server: runs[server, n] for server, n in keys if n == name}
        model = results["models"][name]
        model["servers"] = {server: {kind: _median_run(v) for kind, v in r.items() if v}
                            for server, r in by_server.items()}
        model["per_round"] = by_server
        model["targets"] = targets(by_server, model["raw_bs1"]["p50_ms"])
    return results


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(30)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each wrk run")
    p.add_argument("--rounds", type=int, default=3, help="rounds of interleaved runs (every server once each)")
    p.add_argument("--out", type=Path, default=Path("reports/serving.json"))
    p.add_argument("--servers", default="", help="comma-separated subset of the servers (default: all; kanserve and "
                   "minimal_fastapi are always measured)")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    only = {s.strip() for s in args.servers.split(",") if s.strip()}
    known = servers(args.model_repository, 1)
    if unknown := only - set(known):
        p.error(f"unknown server(s) {sorted(unknown)}; known: {', '.join(known)}")
    results = measure(args.model_repository, args.seconds, args.rounds, only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
