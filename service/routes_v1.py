"""The friendly /v1 API: model listing, predict from pixels/base64/uploads, and the A/B comparison."""
import asyncio
import json
import time

import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from service import body as b
from service.compare import CompareRequest, run_compare
from service.core import Service
from service.errors import Busy
from service.inputs import check_batch, from_encoded, from_json
from service.runtime import ModelRuntime, softmax

router = APIRouter(prefix="/v1")


def _json(obj: object, status: int = 200) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")).encode(), status, media_type="application/json")


def model_info(rt: ModelRuntime) -> dict:
    meta = rt.entry.metadata
    return {"name": rt.name, "version": rt.version, "architecture": meta.get("architecture"),
            "parameters": meta.get("parameters"), "test_accuracy": meta.get("test_accuracy"),
            "provider": rt.provider, "ready": rt.ready, "error": rt.error, "max_batch_size": rt.max_batch_size,
            "inputs": meta.get("inputs"), "outputs": meta.get("outputs"), "sha256": rt.entry.sha256,
            "precision": meta.get("precision")}


async def read_images(request: Request) -> np.ndarray:
    """Images from a JSON body (no Content-Type is read as JSON) or a multipart upload -> [N,1,28,28]."""
    body = await b.read_body(request)
    mt = b.media_type(request)
    if mt == "multipart/form-data":
        return from_encoded(await b.parse_multipart(request, body))
    b.require_json_or_none(request, accepted="application/json or multipart/form-data")
    return from_json(b.parse_json(body))


def predictions(logits: np.ndarray) -> list[dict]:
    probs = np.round(softmax(logits.astype(np.float64)), 6)  # float64: short, exact JSON numbers
    return [{"label": int(p.argmax()), "probabilities": p.tolist()} for p in probs]


@router.get("/models")
async def list_models(request: Request) -> Response:
    svc: Service = request.app.state.service
    return _json({"models": [model_info(rt) for rt in svc.all()]})


@router.get("/models/{name}")
async def get_model(request: Request, name: str) -> Response:
    return _json(model_info(request.app.state.service.get(name)))


@router.post("/models/{name}/predict")
async def predict(request: Request, name: str) -> Response:
    t0 = time.perf_counter()
    svc: Service = request.app.state.service
    rt = svc.ready_model(name)

    async def parse() -> np.ndarray:
        return check_batch(await read_images(request), rt.max_batch_size)

    result = await svc.predict(rt, parse)
    timings = {"queue_ms": round(result.queue_s * 1e3, 3), "inference_ms": round(result.compute_s * 1e3, 3),
               "batch_size": result.batch_size, "total_ms": round((time.perf_counter() - t0) * 1e3, 3)}
    return _json({"model": rt.name, "version": rt.version, "predictions": predictions(result.logits),
                  "timings": timings})


@router.post("/compare")
async def compare(request: Request) -> Response:
    svc: Service = request.app.state.service
    b.require_json_or_none(request)
    req = CompareRequest.parse(b.parse_json(await b.read_body(request)), svc)
    if svc.compare_busy:  # checked and set with no await between: atomic on the event loop
        raise Busy("a comparison is already running; try again when it finishes", {"Retry-After": "5"})
    svc.compare_busy = True
    try:
        return _json(await asyncio.to_thread(run_compare, req))
    finally:
        svc.compare_busy = False
