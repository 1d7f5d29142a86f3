"""POST /v1/compare: the same images through several models, side by side, plus an interleaved A/B latency run.

Latency is measured directly on the sessions (not through HTTP or the batcher) so the numbers compare the
models, not the server. Bounded so it cannot exhaust the server: iterations and batch are capped, and one wall-time
budget covers everything it does (predictions, warm-up, timed rounds).
"""
import time
from dataclasses import dataclass

import numpy as np

from service.errors import BadRequest
from service.inputs import from_fields
from service.runtime import ModelRuntime, softmax
from service.schemas import CompareRequest
from service.stats import latency_summary, ratio_ci


@dataclass
class Comparison:
    labels: list[str]  # as the client named them: "mlp", "mlp:int8"
    models: list[ModelRuntime]
    images: np.ndarray | None  # [N,1,28,28] to predict, or None (latency only)
    request: CompareRequest
    max_wall_s: float


def plan_comparison(req: CompareRequest, svc) -> Comparison:
    """Resolve the models and decode the images (a worker-pool job: images may be files)."""
    models = [svc.ready_model(*_name_and_precision(label)) for label in req.models]
    limit = min(m.max_batch_size for m in models)
    if req.batch_size > limit:
        raise BadRequest(f"batch_size {req.batch_size} is above these models' limit of {limit}")
    images = None
    if req.given():
        images = models[0].validate(from_fields(req)[0], check_range=True)
        for m in models[1:]:
            m.validate(images, check_range=True)
    return Comparison(req.models, models, images, req, svc.settings.compare_max_s)


def _name_and_precision(label: str) -> tuple[str, None, str | None]:
    """"mlp" -> the default version of mlp; "mlp:int8" -> its latest int8 version."""
    name, _, precision = label.partition(":")
    return name, None, precision or None


def _predictions(c: Comparison) -> dict | None:
    if c.images is None:
        return None
    probs = {label: softmax(m.run(c.images)) for label, m in zip(c.labels, c.models, strict=True)}
    per_image = [{name: {"label": int(p[i].argmax()), "confidence": round(float(p[i].max()), 6)}
                  for name, p in probs.items()} for i in range(len(c.images))]
    argmax = np.stack([p.argmax(1) for p in probs.values()])  # [models, N]
    agree = (argmax == argmax[0]).all(axis=0)
    return {"per_image": per_image, "agreement": float(agree.mean()), "n": len(c.images)}


def _latency_batch(c: Comparison) -> np.ndarray:
    size = c.request.batch_size
    if c.images is not None:  # cycle the client's images up to the batch size
        return np.ascontiguousarray(np.resize(c.images, (size, 1, 28, 28)))
    return np.random.default_rng(c.request.seed).random((size, 1, 28, 28), dtype=np.float32)


def _round(models: list[ModelRuntime], x: np.ndarray, order) -> list[float]:
    """Run every model once, in `order`; seconds per model, in model order."""
    seconds = [0.0] * len(models)
    for j in order:
        t0 = time.perf_counter()
        models[j].run(x)
        seconds[j] = time.perf_counter() - t0
    return seconds


def _timed_runs(c: Comparison, x: np.ndarray, deadline: float) -> tuple[list[list[float]], int, bool]:
    """Warm-up (cut short to leave at least half the remaining budget for timing), then interleaved rounds in a
    random order until `iterations` or the deadline. Returns samples per model, warm-up rounds done, truncated."""
    models, req = c.models, c.request
    warm_until = time.perf_counter() + (deadline - time.perf_counter()) / 2
    warmed = 0
    while warmed < req.warmup and time.perf_counter() < warm_until:
        _round(models, x, range(len(models)))
        warmed += 1
    rng = np.random.default_rng(req.seed)
    samples: list[list[float]] = [[] for _ in models]
    for _ in range(req.iterations):
        for s, seconds in zip(samples, _round(models, x, rng.permutation(len(models))), strict=True):
            s.append(seconds)
        if time.perf_counter() > deadline:
            return samples, warmed, len(samples[0]) < req.iterations
    return samples, warmed, False


def run_compare(c: Comparison) -> dict:
    """Runs in a worker thread (never on the event loop); everything inside counts against the wall-time cap."""
    deadline = time.perf_counter() + c.max_wall_s
    preds = _predictions(c)
    samples, warmed, truncated = _timed_runs(c, _latency_batch(c), deadline)
    size = c.request.batch_size
    latency = {label: {**latency_summary(s), "throughput_images_per_s": round(size * len(s) / sum(s), 1),
                       "provider": m.provider, "version": m.version, "precision": m.spec.precision}
               for label, m, s in zip(c.labels, c.models, samples, strict=True)}
    ratios = {f"{label}/{c.labels[0]}": ratio_ci(samples[0], s) for label, s in zip(c.labels[1:], samples[1:],
                                                                                    strict=True)}
    body = {"models": c.labels, "predictions": preds, "latency": latency, "ratios": ratios,
            "config": {"iterations": len(samples[0]), "requested_iterations": c.request.iterations,
                       "warmup": warmed, "requested_warmup": c.request.warmup, "batch_size": size,
                       "truncated_at_wall_s": c.max_wall_s if truncated else None,
                       "order": "interleaved, random per round"}}
    if c.request.samples:
        body["samples_ms"] = {label: np.round(np.asarray(s) * 1e3, 4) for label, s in zip(c.labels, samples,
                                                                                          strict=True)}
    return body
