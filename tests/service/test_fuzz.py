"""Property-based fuzzing of everything that parses a client's body: whatever arrives, the answer is a 2xx or a
4xx with a JSON error, never a 5xx or an exception other than the service's own 400s."""
import contextlib
import copy
import functools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanserve.contract import ContractError, image_spec
from kanserve.repository import ModelEntry
from service.errors import BadRequest
from service.inputs import from_fields
from service.oip import parse_infer
from service.routes_v2 import model_input
from service.runtime import ModelRuntime
from service.schemas import CompareRequest, PredictRequest, parse_body
from tests.service.conftest import make_client

SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=6)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                         max_size=4), max_leaves=25)


def mostly(valid, garbage=JSON):
    """A valid value three times in four, so fuzzing reaches the checks that come after this field's."""
    return st.one_of(valid, valid, valid, garbage)


SMALL_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4),
                                                                                               inner,
                                                                                              max_size=2), max_leaves=4)
DIMS = st.sampled_from([[1, 1, 28, 28], [2, 1, 28, 28]]) | st.lists(st.integers(-2, 30), max_size=5)
DATA = st.builds(lambda v: [v] * 784, st.floats(allow_nan=False) | st.integers()) | st.lists(SCALARS, max_size=8)
TENSOR = st.fixed_dictionaries(
    {"name": mostly(st.just("images")), "datatype": mostly(st.sampled_from(["FP32", "FP64", "INT8", "BYTES"])),
     "shape": mostly(DIMS)},
    optional={"data": mostly(DATA), "parameters": JSON | st.fixed_dictionaries({"binary_data_size": JSON})})
OUTPUT = st.fixed_dictionaries({"name": mostly(st.just("logits"))},
                               optional={"parameters": JSON | st.fixed_dictionaries({"binary_data": JSON})})
RANDOM_OIP = st.fixed_dictionaries({"inputs": mostly(st.lists(TENSOR, min_size=1, max_size=2))},
                                   optional={"outputs": mostly(st.lists(OUTPUT, max_size=2)), "parameters": JSON,
                                             "id": mostly(st.text(max_size=4))})
VALID_OIP = {"id": "r", "parameters": {"binary_data_output": False}, "outputs": [
    {"name": "logits", "parameters": {"binary_data": False}}], "inputs": [
    {"name": "images", "datatype": "FP32", "shape": [1, 1, 28, 28], "parameters": {}, "data": [0.5] * 784}]}
VALID_V1 = {"images": [[0.5] * 28] * 28, "models": ["mlp", "fasterkan"], "iterations": 1, "warmup": 0}
DELETE = object()


def _paths(value, prefix=()) -> list[tuple]:
    """Every place in a JSON value (the 784 pixel values count as one)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        found += [p for k, v in value.items() for p in _paths(v, (*prefix, k))]
    elif isinstance(value, list) and value and not isinstance(value[0], (int, float)):
        found += [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))]
    return found


@st.composite
def mutated(draw, valid: dict) -> object:
    """`valid` with one or two of its fields replaced by arbitrary JSON or deleted: type confusion, one at a time."""
    body = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(_paths(body) or [()]))
        if not path:
            return draw(JSON)
        parent = functools.reduce(lambda node, key: node[key], path[:-1], body)
        value = draw(SMALL_JSON | st.just(DELETE))
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return body


OIP = mutated(VALID_OIP) | mutated(VALID_OIP) | RANDOM_OIP
PIXELS = st.builds(lambda v, n: [[[v] * 28] * 28] * n, st.integers(-1, 256) | st.floats(allow_nan=False),
                   st.integers(0, 3))
V1 = st.dictionaries(st.sampled_from(["images", "image", "image_base64", "images_base64", "models", "iterations",
                                      "warmup", "batch_size", "seed", "extra"]), PIXELS | JSON, max_size=3)
SPEC = image_spec("m", "1")
RUNTIME = ModelRuntime(ModelEntry("m", "1", Path("never-loaded.onnx"), SPEC), SPEC, max_batch_size=8)


@settings(max_examples=1000, deadline=None)
@given(OIP | JSON)
def test_oip_parser_and_contract_raise_only_client_errors(body):
    with contextlib.suppress(BadRequest, ContractError):
        model_input(RUNTIME, parse_infer(json.dumps(body).encode(), None))


@settings(max_examples=300, deadline=None)
@given(mutated(VALID_V1) | V1 | JSON)
def test_v1_bodies_raise_only_client_errors(body):
    raw = json.dumps(body).encode()
    for model in (PredictRequest, CompareRequest):
        try:
            req = parse_body(model, raw)
            RUNTIME.validate(from_fields(req)[0], check_range=True) if req.given() else None
        except (BadRequest, ContractError):
            pass


@pytest.fixture(scope="module")
def fuzz_client(model_repo):
    with make_client(model_repo, max_batch_size=8) as c:
        yield c


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=OIP | JSON, path=st.sampled_from(["/v2/models/mlp/infer", "/v2/models/fasterkan/versions/1/infer"]))
def test_v2_infer_over_http_never_5xx(fuzz_client, body, path):
    _check(fuzz_client.post(path, content=json.dumps(body).encode()), v2=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=mutated(VALID_V1) | V1 | JSON)
def test_v1_predict_over_http_never_5xx(fuzz_client, body):
    _check(fuzz_client.post("/v1/models/fasterkan/predict", content=json.dumps(body).encode()), v2=False)


def _check(r, v2: bool) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        error = r.json()["error"]
        assert isinstance(error if v2 else error["message"], str)
