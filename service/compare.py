"""POST /v1/compare: the same images through several models, side by side, plus an interleaved A/B latency run.

Latency is measured directly on the sessions (not through HTTP or the batcher) so the numbers compare the
models, not the server. Bounded so it cannot exhaust the server: iterations, batch and wall time are capped.
"""
import time
from dataclasses import dataclass

import numpy as np

from service.errors import BadRequest
from service.inputs import IMAGE_FIELDS, check_batch, from_json
from service.runtime import ModelRuntime, softmax
from service.stats import latency_summary, ratio_ci

MAX_ITERATIONS, MAX_WARMUP, MAX_WALL_S = 1000, 100, 10.0
DEFAULT_MODELS = ["mlp", "fasterkan"]


@dataclass
class CompareRequest:
    models: list[ModelRuntime]
    images: np.ndarray | None  # [N,1,28,28] to predict, or None (latency only)
    iterations: int
    warmup: int
    batch_size: int
    seed: int

    @classmethod
    def parse(cls, body: object, svc) -> "CompareRequest":
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        names = body.get("models", DEFAULT_MODELS)
        if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
            raise BadRequest("'models' must list at least two model names")
        if len(set(names)) != len(names):
            raise BadRequest("'models' must not repeat a model")
        models = [svc.ready_model(n) for n in names]
        max_batch = min(m.max_batch_size for m in models)
        images = None
        if any(k in body for k in IMAGE_FIELDS):
            images = check_batch(from_json(body), max_batch)
        return cls(models, images, _int(body, "iterations", 50, 1, MAX_ITERATIONS), _int(body, "warmup", 5, 0,
                   MAX_WARMUP), _int(body, "batch_size", 1, 1, max_batch), _int(body, "seed", 0, 0, 2**32 - 1))


def _int(body: dict, key: str, default: int, lo: int, hi: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise BadRequest(f"'{key}' must be an integer in [{lo}, {hi}]")
    return value


def _predictions(req: CompareRequest) -> dict | None:
    if req.images is None:
        return None
    labels = {m.name: softmax(m.run(req.images)) for m in req.models}
    per_image = [{name: {"label": int(p[i].argmax()), "confidence": round(float(p[i].max()), 6)}
                  for name, p in labels.items()} for i in range(len(req.images))]
    argmax = np.stack([p.argmax(1) for p in labels.values()])  # [models, N]
    agree = (argmax == argmax[0]).all(axis=0)
    return {"per_image": per_image, "agreement": float(agree.mean()), "n": len(req.images)}


def _latency_batch(req: CompareRequest) -> np.ndarray:
    if req.images is not None:  # cycle the client's images up to the batch size
        return np.ascontiguousarray(np.resize(req.images, (req.batch_size, 1, 28, 28)))
    return np.random.default_rng(req.seed).random((req.batch_size, 1, 28, 28), dtype=np.float32)


def _timed_runs(req: CompareRequest, x: np.ndarray) -> tuple[list[list[float]], bool]:
    """Warm-up, then interleaved runs in a random order per round; stops early at the wall-time cap."""
    deadline = time.perf_counter() + MAX_WALL_S
    for _ in range(req.warmup):
        for m in req.models:
            m.run(x)
    rng = np.random.default_rng(req.seed)
    samples: list[list[float]] = [[] for _ in req.models]
    for _ in range(req.iterations):
        for j in rng.permutation(len(req.models)):
            t0 = time.perf_counter()
            req.models[j].run(x)
            samples[j].append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            return samples, True
    return samples, False


def run_compare(req: CompareRequest) -> dict:
    """Runs in a worker thread (never on the event loop)."""
    preds = _predictions(req)
    samples, truncated = _timed_runs(req, _latency_batch(req))
    latency = {}
    for m, s in zip(req.models, samples):
        latency[m.name] = {**latency_summary(s), "throughput_images_per_s": round(req.batch_size * len(s) / sum(s), 1),
                           "provider": m.provider}
    base = req.models[0].name
    ratios = {f"{m.name}/{base}": ratio_ci(samples[0], s) for m, s in zip(req.models[1:], samples[1:])}
    return {"models": [m.name for m in req.models], "predictions": preds, "latency": latency, "ratios": ratios,
            "config": {"iterations": len(samples[0]), "requested_iterations": req.iterations, "warmup": req.warmup,
                       "batch_size": req.batch_size, "truncated_at_wall_s": MAX_WALL_S if truncated else None,
                       "order": "interleaved, random per round"}}
