"""Open Inference Protocol v2 (KServe/Triton): health, metadata, infer, and Triton's extensions a drop-in needs:
binary tensors, classification, model configuration, statistics and the model repository (load/unload)."""
import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from kanserve.contract import triton_config
from service.body import json_response, read_body
from service.core import version_key
from service.deps import ServiceDep
from service.errors import BadRequest, NotFound, NotReady
from service.oip import HEADER_LENGTH, InferRequest, OutputTensor, classify, encode_response, parse_infer
from service.openapi import json_body
from service.runtime import ModelRuntime
from service.schemas import (
    V2_ERRORS,
    OipInferRequest,
    OipInferResponse,
    RepositoryIndexRequest,
    RepositoryModelRequest,
    parse_body,
)
from service.workers import INLINE_BYTES

router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"], responses=V2_ERRORS)
SERVER = {"name": "kanserve", "version": "0.1.0", "extensions": [
    "binary_tensor_data", "classification", "model_configuration", "model_repository", "statistics"]}
BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}, "description":
          "binary tensor data extension: JSON header (Inference-Header-Content-Length bytes), then raw tensors"}}


def model_input(rt: ModelRuntime, req: InferRequest) -> np.ndarray:
    """The one input the model takes, checked against its contract (any finite value, as Triton accepts)."""
    name = rt.spec.input.name
    if set(req.inputs) != {name}:
        raise BadRequest(f"model {rt.name} takes exactly one input '{name}'; got {sorted(req.inputs)}")
    unknown = set(req.outputs) - {rt.spec.output.name}
    if unknown:
        raise BadRequest(f"unknown output(s) {sorted(unknown)}; model {rt.name} has '{rt.spec.output.name}'")
    return rt.validate(req.inputs[name], check_range=False)


def model_output(rt: ModelRuntime, req: InferRequest, output: np.ndarray) -> OutputTensor:
    """The output as asked for: raw, or classified (top k as "value:index:label"), binary or JSON."""
    name = rt.spec.output.name
    asked = req.outputs.get(name)
    binary = asked.binary if asked else req.binary_default
    if asked and asked.classification:
        return OutputTensor(name, "BYTES", classify(output, asked.classification, rt.spec.labels), binary)
    return OutputTensor(name, rt.spec.output.datatype, output, binary)


# Infer first: routes are matched in order, and this is the one every request of a busy server takes.
@router.post("/models/{name}/infer", response_model=OipInferResponse,
             openapi_extra=json_body(OipInferRequest, extra_content=BINARY))
@router.post("/models/{name}/versions/{version}/infer", response_model=OipInferResponse,
             openapi_extra=json_body(OipInferRequest, extra_content=BINARY))
async def infer(name: str, request: Request, version: str | None = None) -> Response:
    svc = request.app.state.service  # not ServiceDep: its sub-dependency was a visible share of the profile
    model = svc.ready_model(name, version)
    with model.stats.request() as clock:
        async with svc.reserve(model) as slot:
            body = await read_body(request, svc.pool, svc.settings.max_body_bytes)
            req = await svc.pool.run(parse_infer, body, request.headers.get(HEADER_LENGTH),
                                     inline=len(body) <= INLINE_BYTES)
            x = model_input(model, req)
            clock.input_ready(len(x))
            result = await slot.submit(x)
        clock.answered(result.queue_s, result.compute_s)
        body, headers = encode_response(model.name, model.version, req.id, [model_output(model, req, result.output)])
    media = "application/octet-stream" if headers else "application/json"
    return Response(body, 200, headers=headers, media_type=media)


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
@router.get("/", include_in_schema=False)  # the published OIP spec writes the path with a slash
async def server_metadata() -> Response:
    return json_response(SERVER)


@router.get("/models/stats")
@router.get("/models/{name}/stats")
@router.get("/models/{name}/versions/{version}/stats")
async def statistics(svc: ServiceDep, name: str | None = None, version: str | None = None) -> Response:
    """Triton's statistics extension: per version, requests, executions and where the time went (ns)."""
    if name is None:
        runtimes = svc.all()
    elif version is None:
        svc.get(name)  # an unknown model is an error, as in Triton
        runtimes = list(svc.models[name].values())
    else:
        runtimes = [svc.get(name, version)]
    return json_response({"model_stats": [rt.stats.triton(rt.name, rt.version) for rt in runtimes]})


@router.get("/models/{name}")
@router.get("/models/{name}/versions/{version}")
async def model_metadata(name: str, svc: ServiceDep, version: str | None = None) -> Response:
    rt = svc.get(name, version)
    spec = rt.spec
    return json_response({"name": rt.name, "versions": sorted(svc.models[rt.name], key=version_key),
                          "platform": "onnxruntime_onnx",
                          "inputs": [spec.input.oip()] if spec else [], "outputs": [spec.output.oip()] if spec else [],
                          "parameters": {"execution_provider": rt.provider, "ready": rt.ready}})


@router.get("/models/{name}/config")
@router.get("/models/{name}/versions/{version}/config")
async def model_config(name: str, svc: ServiceDep, version: str | None = None) -> Response:
    """The model's config.pbtxt in Triton's JSON form, completed from the contract where the file is silent."""
    rt = svc.ready_model(name, version)
    return json_response({**triton_config(rt.spec, svc.settings.max_queue_delay_us, label_filename=None),
                          **(rt.entry.config or {})})


@router.get("/models/{name}/ready")
@router.get("/models/{name}/versions/{version}/ready")
async def model_ready(name: str, svc: ServiceDep, version: str | None = None) -> Response:
    rt = svc.ready_model(name, version)
    return json_response({"name": rt.name, "version": rt.version, "ready": True})


async def _repository_request(request: Request, svc, model: type[BaseModel]) -> BaseModel:
    """A repository request's body: none at all (tritonclient sends none) or a JSON object of `model`."""
    body = await read_body(request, svc.pool, svc.settings.max_body_bytes)
    return parse_body(model, body) if body.strip() else model()


@router.post("/repository/index", openapi_extra=json_body(RepositoryIndexRequest, required=False))
async def repository_index(request: Request, svc: ServiceDep) -> Response:
    """Every model version in the repository on disk and whether it is served (READY) or not (UNAVAILABLE)."""
    only_ready = (await _repository_request(request, svc, RepositoryIndexRequest)).ready
    rows = await svc.repository_index()
    return json_response([r for r in rows if r["state"] == "READY"] if only_ready else rows)


@router.post("/repository/models/{name}/load", openapi_extra=json_body(RepositoryModelRequest, required=False))
async def load(name: str, request: Request, svc: ServiceDep) -> Response:
    """(Re)load a model from the repository as it is now; the old versions serve until the new ones are warm."""
    params = (await _repository_request(request, svc, RepositoryModelRequest)).parameters or {}
    if params.get("config") is not None or any(k.startswith("file:") for k in params):
        raise BadRequest("loading with an overriding config or files is not supported: change the repository on "
                         "disk, then load")
    await svc.load_model(name)
    return json_response({})


@router.post("/repository/models/{name}/unload", openapi_extra=json_body(RepositoryModelRequest, required=False))
async def unload(name: str, request: Request, svc: ServiceDep) -> Response:
    """Stop serving a model; requests already running finish first."""
    await _repository_request(request, svc, RepositoryModelRequest)
    await svc.unload_model(name)
    return json_response({})


# Triton extensions kanserve does not serve answer with why (README "Scaling out"), not a bare "Not Found".
_NO_SHARED_MEMORY = ("one server process with its own sessions has no client memory to share; send binary tensors "
                     "(the binary_tensor_data extension) instead")
NOT_SERVED = {
    "/trace/setting": "trace: kanserve logs one JSON line per event on stdout (KANSERVE_LOG_LEVEL) and exports "
                      "Prometheus metrics on /metrics instead",
    "/models/{name}/trace/setting": "trace: see /v2/trace/setting",
    "/logging": "logging: kanserve's log level is KANSERVE_LOG_LEVEL, set at start",
    "/systemsharedmemory{rest:path}": f"system shared memory: {_NO_SHARED_MEMORY}",
    "/cudasharedmemory{rest:path}": f"CUDA shared memory: {_NO_SHARED_MEMORY}",
}


def _not_served(reason: str):
    async def answer() -> None:
        raise NotFound(f"Triton extension not served by kanserve, {reason}")
    return answer


for _path, _reason in NOT_SERVED.items():
    router.add_api_route(_path, _not_served(_reason), methods=["GET", "POST"], include_in_schema=False)
