"""Open Inference Protocol v2 (KServe/Triton): health, server and model metadata, infer."""
import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from service.body import json_response
from service.deps import ServiceDep
from service.errors import BadRequest, NotReady
from service.oip import HEADER_LENGTH, InferRequest, encode_response, parse_infer
from service.openapi import json_body
from service.runtime import ModelRuntime
from service.schemas import V2_ERRORS, OipInferRequest, OipInferResponse
from service.workers import INLINE_BYTES

router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"], responses=V2_ERRORS)
SERVER = {"name": "kanserve", "version": "0.1.0", "extensions": ["binary_tensor_data", "model_configuration"]}
BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}, "description":
          "binary tensor data extension: JSON header (Inference-Header-Content-Length bytes), then raw tensors"}}


@router.get("/health/live")
async def live() -> Response:
    return json_response({"live": True})


@router.get("/health/ready")
async def ready(svc: ServiceDep) -> Response:
    reasons = svc.not_ready()
    if reasons:
        raise NotReady("not ready: " + "; ".join(reasons), {"Retry-After": "5"})
    return json_response({"ready": True})


@router.get("")
async def server_metadata() -> Response:
    return json_response(SERVER)


@router.get("/models/{name}")
@router.get("/models/{name}/versions/{version}")
async def model_metadata(name: str, svc: ServiceDep, version: str | None = None) -> Response:
    rt = svc.get(name, version)
    spec = rt.spec
    return json_response({"name": rt.name, "versions": sorted(svc.models[rt.name]), "platform": "onnxruntime_onnx",
                          "inputs": [spec.input.oip()] if spec else [], "outputs": [spec.output.oip()] if spec else [],
                          "parameters": {"execution_provider": rt.provider, "ready": rt.ready}})


@router.get("/models/{name}/config")
@router.get("/models/{name}/versions/{version}/config")
async def model_config(name: str, svc: ServiceDep, version: str | None = None) -> Response:
    rt = svc.ready_model(name, version)
    spec, delay = rt.spec, svc.settings.max_queue_delay_us
    return json_response({
        "name": rt.name, "platform": "onnxruntime_onnx", "max_batch_size": rt.max_batch_size,
        "input": [{"name": spec.input.name, "data_type": f"TYPE_{spec.input.datatype}", "format": spec.input.format,
                   "dims": list(spec.input.dims)}],
        "output": [{"name": spec.output.name, "data_type": f"TYPE_{spec.output.datatype}",
                    "dims": list(spec.output.dims)}],
        "dynamic_batching": {"max_queue_delay_microseconds": delay}})


@router.get("/models/{name}/ready")
@router.get("/models/{name}/versions/{version}/ready")
async def model_ready(name: str, svc: ServiceDep, version: str | None = None) -> Response:
    rt = svc.ready_model(name, version)
    return json_response({"name": rt.name, "version": rt.version, "ready": True})


def model_input(rt: ModelRuntime, req: InferRequest) -> np.ndarray:
    """The one input the model takes, checked against its contract (any finite value, as Triton accepts)."""
    name = rt.spec.input.name
    if set(req.inputs) != {name}:
        raise BadRequest(f"model {rt.name} takes exactly one input '{name}'; got {sorted(req.inputs)}")
    unknown = set(req.outputs) - {rt.spec.output.name}
    if unknown:
        raise BadRequest(f"unknown output(s) {sorted(unknown)}; model {rt.name} has '{rt.spec.output.name}'")
    return rt.validate(req.inputs[name], check_range=False)


@router.post("/models/{name}/infer", response_model=OipInferResponse,
             openapi_extra=json_body(OipInferRequest, extra_content=BINARY))
@router.post("/models/{name}/versions/{version}/infer", response_model=OipInferResponse,
             openapi_extra=json_body(OipInferRequest, extra_content=BINARY))
async def infer(name: str, request: Request, svc: ServiceDep, version: str | None = None) -> Response:
    model = svc.ready_model(name, version)
    async with svc.reserve(model) as slot:
        body = await request.body()
        req = await svc.pool.run(parse_infer, body, request.headers.get(HEADER_LENGTH),
                                 inline=len(body) <= INLINE_BYTES)
        result = await slot.submit(model_input(model, req))
    output = model.spec.output.name
    binary = {output: req.outputs[output].binary} if req.outputs else {output: req.binary_default}
    body, headers = encode_response(model.name, model.version, req.id, {output: result.output}, binary)
    media = "application/octet-stream" if headers else "application/json"
    return Response(body, 200, headers=headers, media_type=media)
