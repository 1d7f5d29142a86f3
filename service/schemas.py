"""Request and response bodies as pydantic models: /v1 bodies are parsed with them, and /openapi.json documents
every body, example and error shape from them (the OIP ones only document: its codec in service.oip is faster)."""
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, model_validator

from service.errors import BadRequest

IMAGE_FIELDS = ("images", "image", "image_base64", "images_base64")
MAX_FILES = 256
PIXELS = Annotated[Any, WithJsonSchema({
    "type": "array", "items": {"type": "array"},
    "description": "one 28×28 image, a list of them, or [N,1,28,28]: floats in [0, 1] or integers 0–255, white "
                   "digit on black"})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ImageFields(_Strict):
    """Images in one of four forms; `images`/`image` are pixel arrays, the base64 forms are PNG/JPEG/... files."""

    images: PIXELS | None = None
    image: PIXELS | None = None
    image_base64: str | None = Field(None, description="an image file (PNG, JPEG, GIF, BMP, WebP), base64 or a "
                                                       "data: URL")
    images_base64: list[str] | None = Field(None, min_length=1, max_length=MAX_FILES)

    def given(self) -> list[str]:
        return [k for k in IMAGE_FIELDS if getattr(self, k) is not None]


class PredictRequest(ImageFields):
    model_config = ConfigDict(json_schema_extra={"examples": [{"images": [[0] * 28] * 28}]})

    @model_validator(mode="after")
    def _one_form(self) -> "PredictRequest":
        if len(self.given()) != 1:
            raise ValueError(f"send exactly one of {', '.join(IMAGE_FIELDS)}; got {self.given() or 'none'}")
        return self


class CompareRequest(ImageFields):
    """An A/B run: the same input through each model, interleaved in a random order per round."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"models": ["mlp", "fasterkan"], "iterations": 200},
                                                              {"models": ["mlp:int8", "fasterkan:fp32"]}]})
    models: list[str] = Field(["mlp", "fasterkan"], min_length=2, max_length=8,
                              description='model names, each optionally with a precision: "mlp:int8", "fasterkan"')
    iterations: int = Field(50, ge=1, le=1000, description="timed rounds (each runs every model once)")
    warmup: int = Field(5, ge=0, le=100, description="untimed rounds first; the 10 s cap covers them too")
    batch_size: int = Field(1, ge=1, le=4096, description="images per timed run, at most every model's limit")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    samples: bool = Field(False, description="also return every timed run's latency per model (ms, in run order)")

    @model_validator(mode="after")
    def _distinct(self) -> "CompareRequest":
        if len(set(self.models)) != len(self.models):
            raise ValueError("'models' must not repeat a model")
        if len(self.given()) > 1:
            raise ValueError(f"send at most one of {', '.join(IMAGE_FIELDS)}")
        return self


def parse_body(model: type[BaseModel], body: bytes) -> BaseModel:
    """A /v1 JSON body as `model`; any problem is a 400 naming the field."""
    if not body:
        raise BadRequest("empty body: expected JSON")
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        raise BadRequest("; ".join(_problem(err) for err in e.errors()[:3])) from None


def _problem(err: dict) -> str:
    where = ".".join(map(str, err["loc"]))
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


class Prediction(BaseModel):
    label: int = Field(description="the most probable class")
    probabilities: list[float] = Field(description="softmax over the 10 classes, rounded to 6 decimals")


class Timings(BaseModel):
    queue_ms: float
    inference_ms: float = Field(description="session.run time of the batch this request ran in")
    batch_size: int = Field(description="images in that batch (more than yours when requests were merged)")
    total_ms: float


class SeenImage(BaseModel):
    image_png_base64: str = Field(description="the 28×28 input the model saw, white digit on black")
    bbox: list[int] | None = Field(description="where the digit was found in the upload: left, top, right, bottom "
                                               "(pixels, right/bottom exclusive); null for pixel arrays")
    inverted: bool | None = Field(description="dark ink on a light background was inverted")


class Explanation(BaseModel):
    label: int = Field(description="the predicted class, whose logit is explained")
    layer: int = Field(description="the KAN layer whose edges contribute (the last one)")
    logit: float = Field(description="the served logit of `label` (the model's output, unchanged)")
    bias: float = Field(description="the layer's bias for `label` (0 for FasterKAN)")
    sum: float = Field(description="Σ contributions + bias: equals `logit` up to float rounding")
    contributions: list[float] = Field(description="per input i of the layer: φ_{label,i}(u_i), its edge's value")
    edge_inputs: list[list[float]] = Field(description="per KAN layer: the value u_i every edge from input i read")


class PredictResponse(BaseModel):
    model: str
    version: str
    precision: str
    predictions: list[Prediction]
    timings: Timings
    debug: list[SeenImage] | None = Field(None, description="with ?debug=true")
    explain: list[Explanation] | None = Field(None, description="with ?explain=true (KAN models)")


class ModelInfo(BaseModel):
    name: str
    version: str
    architecture: str | None
    parameters: int | None
    test_accuracy: float | None
    precision: str | None
    provider: str | None = Field(description="the execution provider the session really runs on")
    ready: bool
    error: str | None
    max_batch_size: int
    inputs: list[dict] | None
    outputs: list[dict] | None
    sha256: str | None
    functions: bool = Field(description="a KAN with exported functions: GET .../functions and ?explain=true work")


class ModelList(BaseModel):
    models: list[ModelInfo]


class CompareResponse(BaseModel):
    models: list[str]
    predictions: dict | None = Field(description="per-image labels of every model and their agreement")
    latency: dict[str, dict] = Field(description="per model: p50/p90/p99/mean/min/max ms, throughput, provider")
    ratios: dict[str, dict] = Field(description="'B/A': ratio of medians with a bootstrap 95 % CI")
    config: dict
    samples_ms: dict[str, list[float]] | None = Field(None, description="with \"samples\": true: every timed run's "
                                                                         "latency per model, ms, in run order")


class KanEdge(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    out: int = Field(description="output node j of the layer")
    in_: int = Field(alias="in", description="input node i of the layer")
    importance: float = Field(description="mean |φ_ji(u_i)| over the training images export measured on")
    range: list[float] = Field(description="[low, high]: the u_i those training images produced")
    x: list[float] = Field(description="u, evenly spaced over the range")
    y: list[float] = Field(description="φ_ji(u)")


class KanLayerFunctions(BaseModel):
    index: int
    kind: str = Field(description="the layer type, e.g. fasterkan")
    inputs: int
    outputs: int
    basis: dict = Field(description="the basis every φ is a weighted sum of, e.g. RSWAF centres and 1/h")
    edges: list[KanEdge] = Field(description="the `top` most important edges, most important first")


class FunctionsResponse(BaseModel):
    model: str
    version: str
    architecture: str | None
    measured: dict = Field(description="which training images importance and ranges were measured on, and how")
    layers: list[KanLayerFunctions]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every /v1 error (4xx and 503)."""

    error: ErrorDetail


V1_ERRORS = {"4XX": {"model": ErrorResponse, "description": "the request cannot be served as sent"},
             503: {"model": ErrorResponse, "description": "not ready, overloaded or shutting down (see Retry-After)"}}


# Open Inference Protocol (documentation only; the codec is service.oip).
class OipTensor(BaseModel):
    name: str
    shape: list[Annotated[int, Field(ge=0)]]
    datatype: str = Field(examples=["FP32"])
    parameters: dict | None = Field(None, description="binary_data_size with the binary extension")
    data: list | None = Field(None, description="row-major values (absent when sent as binary)")


class OipRequestedOutput(BaseModel):
    name: str
    parameters: dict | None = Field(None, description="binary_data: bool")


class OipInferRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"inputs": [
        {"name": "images", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [0.0] * 784}]}]})
    id: str | None = None
    parameters: dict | None = Field(None, description="binary_data_output: bool")
    inputs: list[OipTensor] = Field(min_length=1)
    outputs: list[OipRequestedOutput] | None = None


class OipInferResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    outputs: list[OipTensor]


class OipError(BaseModel):
    error: str


V2_ERRORS = {"4XX": {"model": OipError, "description": "the request cannot be served as sent"},
             503: {"model": OipError, "description": "not ready, overloaded or shutting down (see Retry-After)"}}


class RepositoryIndexRequest(BaseModel):
    model_config = ConfigDict(strict=True)
    ready: bool = Field(False, description="only the versions that are ready")


class RepositoryModelRequest(BaseModel):
    model_config = ConfigDict(strict=True)
    parameters: dict | None = Field(None, description="unload_dependents is accepted and has no effect; config "
                                                      "and file overrides are not supported")
