"""Open Inference Protocol v2 (KServe/Triton): health, server and model metadata, infer."""

import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from service.body import read_body
from service.core import Service
from service.errors import BadRequest, NotReady
from service.oip import HEADER_LENGTH, encode_response, parse_infer
from service.routes_v1 import _json
from service.runtime import ModelRuntime

router = APIRouter(prefix="/v2")
SERVER = {"name": "kanserve", "version": "0.1.0", "extensions": ["binary_tensor_data", "model_configuration"]}


@router.get("/health/live")
async def live() -> Response:
    return _json({"live": True})


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    reasons = request.app.state.service.not_ready()
    if reasons:
        raise NotReady("not ready: " + "; ".join(reasons), {"Retry-After": "5"})
    return _json({"ready": True})


@router.get("")
async def server_metadata() -> Response:
    return _json(SERVER)


def _metadata(svc: Service, rt: ModelRuntime) -> dict:
    meta = rt.entry.metadata
    return {"name": rt.name, "versions": sorted(svc.models[rt.name]), "platform": "onnxruntime_onnx",
            "inputs": meta.get("inputs", []), "outputs": meta.get("outputs", []),
            "parameters": {"execution_provider": rt.provider, "ready": rt.ready}}


@router.get("/models/{name}")
@router.get("/models/{name}/versions/{version}")
async def model_metadata(request: Request, name: str, version: str | None = None) -> Response:
    svc: Service = request.app.state.service
    return _json(_metadata(svc, svc.get(name, version)))


@router.get("/models/{name}/config")
@router.get("/models/{name}/versions/{version}/config")
async def model_config(request: Request, name: str, version: str | None = None) -> Response:
    svc: Service = request.app.state.service
    rt = svc.get(name, version)
    delay = svc.settings.max_queue_delay_us
    return _json({"name": rt.name, "platform": "onnxruntime_onnx", "max_batch_size": rt.max_batch_size,
                  "input": [{"name": rt.input_name, "data_type": "TYPE_FP32", "dims": [1, 28, 28]}],
                  "output": [{"name": rt.output_name, "data_type": "TYPE_FP32", "dims": [10]}],
                  "dynamic_batching": {"max_queue_delay_microseconds": delay}})


@router.get("/models/{name}/ready")
@router.get("/models/{name}/versions/{version}/ready")
async def model_ready(request: Request, name: str, version: str | None = None) -> Response:
    rt = request.app.state.service.ready_model(name, version)
    return _json({"name": rt.name, "version": rt.version, "ready": True})


def _model_input(rt: ModelRuntime, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The one input the model takes, checked against its contract: FP32 [N,1,28,28] in [0,1]."""
    if set(inputs) != {rt.input_name}:
        raise BadRequest(f"model {rt.name} takes exactly one input '{rt.input_name}'; got {sorted(inputs)}")
    x = inputs[rt.input_name]
    if x.dtype != np.float32:
        raise BadRequest(f"input '{rt.input_name}' must be FP32")
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28) or not 1 <= x.shape[0] <= rt.max_batch_size:
        raise BadRequest(f"input '{rt.input_name}' must have shape [N,1,28,28] with 1 <= N <= {rt.max_batch_size};"
                         f" got {list(x.shape)}")
    if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
        raise BadRequest(f"input '{rt.input_name}' values must be finite and in [0, 1]")
    return np.ascontiguousarray(x)


@router.post("/models/{name}/infer")
@router.post("/models/{name}/versions/{version}/infer")
async def infer(request: Request, name: str, version: str | None = None) -> Response:
    svc: Service = request.app.state.service
    rt = svc.ready_model(name, version)
    parsed = []

    async def parse() -> np.ndarray:
        req = parse_infer(await read_body(request), request.headers.get(HEADER_LENGTH))
        unknown = set(req.outputs) - {rt.output_name}
        if unknown:
            raise BadRequest(f"unknown output(s) {sorted(unknown)}; model {rt.name} has '{rt.output_name}'")
        parsed.append(req)
        return _model_input(rt, req.inputs)

    result = await svc.predict(rt, parse)
    req = parsed[0]
    binary = req.outputs or {rt.output_name: req.binary_default}
    body, headers = encode_response(rt.name, rt.version, req.id, {rt.output_name: result.logits}, binary)
    media = "application/octet-stream" if headers else "application/json"
    return Response(body, 200, headers=headers, media_type=media)
