"""The friendly /v1 API: model listing, predict from pixels/base64/uploads, and the A/B comparison."""
import asyncio
import time
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.body import json_response, media_type, read_body, require_json_or_none
from service.compare import plan_comparison, run_compare
from service.core import Service
from service.deps import ServiceDep
from service.errors import BadRequest, Busy
from service.imaging import Extraction, png_base64
from service.inputs import from_encoded, from_fields, is_encoded, multipart_files
from service.kan import explainer_of
from service.openapi import json_body
from service.runtime import ModelRuntime, softmax
from service.schemas import (
    V1_ERRORS,
    CompareRequest,
    CompareResponse,
    ModelInfo,
    ModelList,
    PredictRequest,
    PredictResponse,
    parse_body,
)
from service.workers import INLINE_BYTES

PRECISION = Annotated[Literal["fp32", "fp16", "int8"] | None, Query(
    description="the model's latest version of this precision (default: its latest fp32 version)")]
DEBUG = Annotated[bool, Query(description="also return, per image, the 28×28 input the model saw (base64 PNG) and "
                                          "the bounding box of the digit found in the upload (left, top, right, "
                                          "bottom; pixels)")]
EXPLAIN = Annotated[bool, Query(description="KAN models: also return, per image, the last KAN layer's edge "
                                            "contributions φ(u) to the predicted class's logit (they sum to it up to "
                                            "the bias; the logits served are unchanged) and what each edge read")]

router = APIRouter(prefix="/v1", tags=["v1"], responses=V1_ERRORS)
UPLOAD = {"multipart/form-data": {"schema": {"type": "object", "properties": {"file": {
    "type": "string", "format": "binary", "description": "one or more image files (PNG, JPEG, GIF, BMP, WebP)"}}}}}


def model_info(rt: ModelRuntime) -> dict:
    spec, prov = rt.spec, (rt.spec.provenance if rt.spec else {})
    return {"name": rt.name, "version": rt.version, "architecture": prov.get("architecture"),
            "parameters": prov.get("parameters"), "test_accuracy": prov.get("test_accuracy"),
            "precision": spec.precision if spec else None, "provider": rt.provider, "ready": rt.ready,
            "error": rt.error, "max_batch_size": rt.max_batch_size,
            "inputs": [spec.input.oip()] if spec else None, "outputs": [spec.output.oip()] if spec else None,
            "sha256": rt.entry.sha256, "functions": rt.kan is not None}


def predictions(logits: np.ndarray) -> list[dict]:
    probs = np.round(softmax(logits.astype(np.float64)), 6)  # float64: short, exact JSON numbers
    return [{"label": int(p.argmax()), "probabilities": p} for p in probs]


async def read_images(request: Request, svc: Service) -> tuple[np.ndarray, list[Extraction] | None]:
    """A JSON body (no Content-Type is read as JSON) or a multipart upload -> [N,1,28,28], and for image files
    what the extraction found; parsing large bodies and all image decoding run in the worker pool."""
    body = await read_body(request, svc.pool, svc.settings.max_body_bytes)
    if media_type(request) == "multipart/form-data":
        return await svc.pool.run(from_encoded, await multipart_files(request.headers, body))
    require_json_or_none(request, accepted="application/json or multipart/form-data")
    small = len(body) <= INLINE_BYTES
    req = await svc.pool.run(parse_body, PredictRequest, body, inline=small)
    return await svc.pool.run(from_fields, req, inline=small and not is_encoded(req))


def seen(x: np.ndarray, found: list[Extraction] | None) -> list[dict]:
    """`?debug=true`: per image, the 28×28 input the model saw (PNG) and where the digit was found in the upload."""
    return [{"image_png_base64": png_base64(x[i, 0]), "bbox": list(found[i].bbox) if found else None,
             "inverted": found[i].inverted if found else None} for i in range(len(x))]


# Predict first: routes are matched in order (see app.py).
@router.post("/models/{name}/predict", response_model=PredictResponse,
             openapi_extra=json_body(PredictRequest, extra_content=UPLOAD))
async def predict(name: str, request: Request, svc: ServiceDep, precision: PRECISION = None,
                  debug: DEBUG = False, explain: EXPLAIN = False) -> Response:
    """Predict digits from pixel arrays, base64 image files or a multipart upload (photos are cropped and centred
    the way MNIST was made)."""
    t0 = time.perf_counter()
    model = svc.ready_model(name, precision=precision)
    explainer = explainer_of(model, BadRequest) if explain else None
    with model.stats.request() as clock:
        async with svc.reserve(model) as slot:
            images, found = await read_images(request, svc)
            x = model.validate(images, check_range=True)
            clock.input_ready(len(x))
            result = await slot.submit(x)
        clock.answered(result.queue_s, result.compute_s)
    timings = {"queue_ms": round(result.queue_s * 1e3, 3), "inference_ms": round(result.compute_s * 1e3, 3),
               "batch_size": result.batch_size, "total_ms": round((time.perf_counter() - t0) * 1e3, 3)}
    body = {"model": model.name, "version": model.version, "precision": model.spec.precision,
            "predictions": predictions(result.output),
            "timings": timings}
    if debug:
        body["debug"] = await svc.pool.run(seen, x, found)
    if explainer is not None:  # its own graph and numpy: the served logits above are untouched
        body["explain"] = await svc.pool.run(explainer.explain, x, result.output)
    return json_response(body)


@router.get("/models", response_model=ModelList)
async def list_models(svc: ServiceDep) -> Response:
    return json_response({"models": [model_info(rt) for rt in svc.all()]})


@router.get("/models/{name}", response_model=ModelInfo)
async def get_model(name: str, svc: ServiceDep) -> Response:
    return json_response(model_info(svc.get(name)))


@router.post("/compare", response_model=CompareResponse, openapi_extra=json_body(CompareRequest))
async def compare(request: Request, svc: ServiceDep) -> Response:
    """The same input through several models, side by side, and an interleaved A/B latency run (capped at 10 s,
    warm-up included; one comparison at a time)."""
    require_json_or_none(request)
    req = await svc.pool.run(parse_body, CompareRequest, await read_body(request, svc.pool,
                                                                         svc.settings.max_body_bytes))
    plan = await svc.pool.run(plan_comparison, req, svc)
    if svc.compare_busy:  # checked and set with no await between: atomic on the event loop
        raise Busy("a comparison is already running; try again when it finishes", {"Retry-After": "5"})
    svc.compare_busy = True
    try:
        return json_response(await asyncio.to_thread(run_compare, plan))
    finally:
        svc.compare_busy = False
