"""Framework CPU per request, kanserve's app vs the minimal FastAPI endpoint, with inference replaced by a constant.

Both ASGI apps are called in-process (no sockets, no server) with the same OIP JSON body, in interleaved rounds, so
what is left is routing, dependencies, parsing, validation, middleware and encoding. `--profile` adds a cProfile of
kanserve's path. This found FastAPI's route matching at ~21 % of a request when /v2 infer was the ~34th route.

Run: python -m bench.request_overhead [--rounds 8] [--requests 1500] [--profile]
"""
import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import time
from pathlib import Path

import numpy as np

PATH = "/v2/models/fasterkan/infer"


def stub_inference() -> None:
    """Every onnxruntime session returns zeros of the right batch: the request path is all that is timed."""
    import onnxruntime as ort

    out = np.zeros((256, 10), np.float32)
    ort.InferenceSession.run = lambda self, names, feeds, *a, **k: [out[: len(next(iter(feeds.values())))]]


async def cpu_per_request(app, body: bytes, n: int) -> float:
    """Mean process CPU time (µs) of `n` requests through the ASGI app, after a warm-up."""
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        pass

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": PATH, "raw_path": PATH.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    for _ in range(100):
        await app(dict(scope), receive, send)
    t0 = time.process_time()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.process_time() - t0) / n * 1e6


async def measure(repo: Path, rounds: int, n: int, profile: bool) -> dict:
    stub_inference()
    os.environ.setdefault("PEER_MODEL", str(repo / "fasterkan" / "1" / "model.onnx"))
    import bench.peers.minimal_fastapi as peer
    from bench.serving import json_body
    from service.app import create_app
    from service.logs import configure_logging
    from service.settings import Settings

    body, app = json_body(), create_app(Settings(model_repository=repo, intra_op_threads=1))
    configure_logging("info")  # the JSON access log is formatted and written as in production, to /dev/null
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the process)
    times = {"kanserve": [], "minimal_fastapi": []}
    async with app.router.lifespan_context(app):
        for _ in range(rounds):
            times["kanserve"].append(await cpu_per_request(app, body, n))
            times["minimal_fastapi"].append(await cpu_per_request(peer.app, body, n))
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            await cpu_per_request(app, body, n)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return {k: {"min_us": min(v), "median_us": float(np.median(v))} for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.request_overhead", description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    p.add_argument("--requests", type=int, default=1500, help="requests per app per round")
    p.add_argument("--profile", action="store_true", help="print a cProfile of kanserve's request path")
    args = p.parse_args(argv)
    result = asyncio.run(measure(args.model_repository, args.rounds, args.requests, args.profile))
    for name, r in result.items():
        print(f"{name:16} CPU per request: min {r['min_us']:.0f} µs, median {r['median_us']:.0f} µs")


if __name__ == "__main__":
    main()
