"""Every bad input gets a 4xx JSON error (never a 5xx or a trace), and the server keeps serving afterwards."""
import base64
import json

import numpy as np
import pytest

from tests.service.conftest import make_client, png_digit, png_header_only

LIMIT = 64 * 1024
MAX_BATCH = 8
IMG = np.full((28, 28), 0.5).tolist()
GOOD = {"images": IMG}
P1, P2 = "/v1/models/mlp/predict", "/v2/models/mlp/infer"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _oip(shape, datatype="FP32", data=None, **extra) -> dict:
    n = int(np.prod(shape))
    t = {"name": "images", "datatype": datatype, "shape": shape, "data": [0.5] * n if data is None else data}
    return {"inputs": [t], **extra}


def _binary(shape, nbytes: int, size: int) -> tuple[bytes, dict]:
    head = json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": shape,
                                   "parameters": {"binary_data_size": size}}]}).encode()
    return head + b"\0" * nbytes, {"Inference-Header-Content-Length": str(len(head))}


def _binary_values(x: np.ndarray) -> tuple[bytes, dict]:
    head = json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": list(x.shape),
                                   "parameters": {"binary_data_size": x.astype("<f4").nbytes}}]}).encode()
    return head + x.astype("<f4").tobytes(), {"Inference-Header-Content-Length": str(len(head))}


J = "application/json"
CASES = {  # id: (path, kwargs for client.post, expected status)
    "v1-wrong-size": (P1, {"json": {"images": np.zeros((27, 28)).tolist()}}, 400),
    "v1-wrong-ndim": (P1, {"json": {"images": np.zeros((1, 2, 28, 28)).tolist()}}, 400),
    "v1-ragged": (P1, {"json": {"images": [[0.1] * 28] * 27 + [[0.1] * 27]}}, 400),
    "v1-nan": (P1, {"content": json.dumps({"images": [[float("nan")] * 28] * 28}), "headers": {"content-type": J}},
               400),
    "v1-inf": (P1,
               {"content": b'{"images": [' + b",".join([b"[" + b",".join([b"Infinity"] * 28) + b"]"] * 28) + b"]}"},
               400),
    "v1-float-above-1": (P1, {"json": {"images": np.full((28, 28), 1.5).tolist()}}, 400),
    "v1-negative": (P1, {"json": {"images": np.full((28, 28), -0.1).tolist()}}, 400),
    "v1-int-above-255": (P1, {"json": {"images": np.full((28, 28), 256).tolist()}}, 400),
    "v1-strings": (P1, {"json": {"images": [["a"] * 28] * 28}}, 400),
    "v1-bools": (P1, {"json": {"images": [[True] * 28] * 28}}, 400),
    "v1-null": (P1, {"json": {"images": None}}, 400),
    "v1-empty-batch": (P1, {"json": {"images": []}}, 400),
    "v1-batch-above-limit": (P1, {"json": {"images": [IMG] * (MAX_BATCH + 1)}}, 400),
    "v1-no-images-key": (P1, {"json": {"pictures": IMG}}, 400),
    "v1-two-forms": (P1, {"json": {"images": IMG, "image_base64": _b64(png_digit())}}, 400),
    "v1-not-object": (P1, {"json": [IMG]}, 400),
    "v1-invalid-json": (P1, {"content": b'{"images": [', "headers": {"content-type": J}}, 400),
    "v1-invalid-utf8": (P1, {"content": b'{"images": "\xff\xfe"}', "headers": {"content-type": J}}, 400),
    "v1-deep-json": (P1, {"content": b"[" * 20_000 + b"]" * 20_000, "headers": {"content-type": J}}, 400),
    "v1-empty-body": (P1, {"content": b"", "headers": {"content-type": J}}, 400),
    "v1-body-too-large": (P1, {"content": b" " * (LIMIT + 1), "headers": {"content-type": J}}, 413),
    "v1-chunked-too-large": (P1, {"content": iter([b" " * 40_000] * 3), "headers": {"content-type": J}}, 413),
    "v1-unknown-model": ("/v1/models/nope/predict", {"json": GOOD}, 404),
    "v1-media-type": (P1, {"content": b"abc", "headers": {"content-type": "text/plain"}}, 415),
    "v1-invalid-base64": (P1, {"json": {"image_base64": "not base64!!"}}, 400),
    "v1-base64-not-string": (P1, {"json": {"image_base64": 12}}, 400),
    "v1-corrupt-image": (P1, {"json": {"image_base64": _b64(b"\x89PNG\r\n\x1a\n garbage")}}, 400),
    "v1-truncated-image": (P1, {"json": {"image_base64": _b64(png_digit()[:60])}}, 400),
    "v1-decompression-bomb": (P1, {"json": {"image_base64": _b64(png_header_only(100_000, 100_000))}}, 400),
    "v1-multipart-corrupt-file": (P1, {"files": [("f", ("a.png", b"nope", "image/png"))]}, 400),
    "v1-multipart-no-files": (P1, {"files": {"x": (None, "1")}}, 400),
    "v1-compare-one-model": ("/v1/compare", {"json": {"models": ["mlp"]}}, 400),
    "v1-compare-unknown-model": ("/v1/compare", {"json": {"models": ["mlp", "nope"]}}, 404),
    "v1-compare-iterations": ("/v1/compare", {"json": {"iterations": 10_000}}, 400),
    "v1-compare-batch": ("/v1/compare", {"json": {"batch_size": MAX_BATCH + 1}}, 400),
    "v1-compare-iterations-type": ("/v1/compare", {"json": {"iterations": "many"}}, 400),
    "v2-unknown-model": ("/v2/models/nope/infer", {"json": _oip([1, 1, 28, 28])}, 404),
    "v2-unknown-version": ("/v2/models/mlp/versions/7/infer", {"json": _oip([1, 1, 28, 28])}, 404),
    "v2-data-shape-mismatch": (P2, {"json": _oip([2, 1, 28, 28], data=[0.5] * 784)}, 400),
    "v2-unknown-datatype": (P2, {"json": _oip([1, 1, 28, 28], datatype="FP8")}, 400),
    "v2-wrong-datatype": (P2, {"json": _oip([1, 1, 28, 28], datatype="INT32", data=[0] * 784)}, 400),
    "v2-wrong-shape": (P2, {"json": _oip([1, 784])}, 400),
    "v2-negative-dim": (P2, {"json": _oip([-1, 1, 28, 28], data=[0.5] * 784)}, 400),
    "v2-huge-dims": (P2, {"json": _oip([2**31, 2**31, 2**31, 4], data=[])}, 400),
    "v2-empty-batch": (P2, {"json": _oip([0, 1, 28, 28])}, 400),
    "v2-batch-above-limit": (P2, {"json": _oip([MAX_BATCH + 1, 1, 28, 28])}, 400),
    "v2-binary-nan": (P2, dict(zip(("content", "headers"), _binary_values(np.full((1, 1, 28, 28), np.nan)),
                                   strict=True)), 400),
    "v2-json-overflow": (P2, {"json": _oip([1, 1, 28, 28], data=[1e300] * 784)}, 400),
    "v2-nan-token": (P2, {"content": json.dumps(_oip([1, 1, 28, 28], data=[float("nan")] * 784))}, 400),
    "v2-string-data": (P2, {"json": _oip([1, 1, 28, 28], data=["x"] * 784)}, 400),
    "v2-no-inputs": (P2, {"json": {"inputs": []}}, 400),
    "v2-wrong-input-name": (P2, {"json": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "name": "x"}]}}, 400),
    "v2-unknown-output": (P2, {"json": _oip([1, 1, 28, 28], outputs=[{"name": "probs"}])}, 400),
    "v2-invalid-json": (P2, {"content": b"{inputs"}, 400),
    "v2-binary-size-mismatch": (P2, dict(zip(("content", "headers"), _binary([1, 1, 28, 28], 3136, 3000),
                                             strict=True)), 400),
    "v2-binary-short-body": (P2, dict(zip(("content", "headers"), _binary([1, 1, 28, 28], 100, 3136), strict=True)),
                             400),
    "v2-bad-header-length": (P2, {"content": b"{}", "headers": {"Inference-Header-Content-Length": "99"}}, 400),
    "v2-body-too-large": (P2, {"content": b"0" * (LIMIT + 1)}, 413),
}

# Wrongly typed fields that once reached a 500 (and closed the keep-alive connection).
TYPED = {
    "datatype-list": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "datatype": ["FP32"]}]},
    "datatype-object": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "datatype": {"t": "FP32"}}]},
    "params-list": _oip([1, 1, 28, 28], parameters=[1]),
    "params-string": _oip([1, 1, 28, 28], parameters="binary"),
    "params-bool": _oip([1, 1, 28, 28], parameters=True),
    "binary-output-flag-string": _oip([1, 1, 28, 28], parameters={"binary_data_output": "yes"}),
    "input-params-list": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "parameters": [1]}]},
    "input-params-string": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "parameters": "x"}]},
    "input-params-bool": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "parameters": False}]},
    "binary-size-string": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "parameters": {"binary_data_size": "1"}}]},
    "output-params-list": _oip([1, 1, 28, 28], outputs=[{"name": "logits", "parameters": [1]}]),
    "output-params-string": _oip([1, 1, 28, 28], outputs=[{"name": "logits", "parameters": "x"}]),
    "output-params-bool": _oip([1, 1, 28, 28], outputs=[{"name": "logits", "parameters": True}]),
    "output-binary-flag-int": _oip([1, 1, 28, 28], outputs=[{"name": "logits", "parameters": {"binary_data": 1}}]),
    "outputs-object": _oip([1, 1, 28, 28], outputs={"name": "logits"}),
    "output-not-object": _oip([1, 1, 28, 28], outputs=["logits"]),
    "output-name-int": _oip([1, 1, 28, 28], outputs=[{"name": 3}]),
    "id-number": _oip([1, 1, 28, 28], id=7),
    "input-not-object": {"inputs": ["images"]},
    "input-name-null": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "name": None}]},
    "shape-string": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "shape": "1,1,28,28"}]},
    "shape-floats": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "shape": [1.0, 1, 28, 28]}]},
    "shape-bools": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "shape": [True, 1, 28, 28]}]},
    "data-object": {"inputs": [{**_oip([1, 1, 28, 28])["inputs"][0], "data": {"0": 1}}]},
    "data-nulls": _oip([1, 1, 28, 28], data=[None] * 784),
    "data-nested-objects": _oip([1, 1, 28, 28], data=[{"v": 1}] * 784),
    "data-huge-int": _oip([1, 1, 28, 28], data=[10**40] * 784),
    "input-twice": {"inputs": [_oip([1, 1, 28, 28])["inputs"][0]] * 2},
    "inputs-object": {"inputs": {"name": "images"}},
    "body-list": [_oip([1, 1, 28, 28])],
    "body-string": "images",
}


@pytest.mark.parametrize("body", TYPED.values(), ids=TYPED.keys())
def test_wrongly_typed_oip_fields_are_400_and_keep_the_connection(small_client, body):
    r = small_client.post(P2, json=body)
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["error"], str) and r.headers.get("connection") != "close"
    assert small_client.post(P2, json=_oip([1, 1, 28, 28])).status_code == 200


def test_v2_accepts_any_finite_fp32_like_triton(small_client):
    """perf_analyzer sends random FP32: /v2 polices shape, type and finiteness, not the value range (/v1 does)."""
    assert small_client.post(P2, json=_oip([1, 1, 28, 28], data=[2.0] * 784)).status_code == 200
    assert small_client.post(P2, json=_oip([1, 1, 28, 28], data=[-1e30] * 784)).status_code == 200
    assert small_client.post(P1, json={"images": np.full((28, 28), 2.0).tolist()}).status_code == 400


@pytest.fixture(scope="module")
def small_client(model_repo):
    with make_client(model_repo, max_body_bytes=LIMIT, max_batch_size=MAX_BATCH) as c:
        yield c


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_gets_4xx_json_and_server_keeps_serving(small_client, case):
    path, kwargs, status = case
    r = small_client.post(path, **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    message = error if path.startswith("/v2") else error["message"]
    assert isinstance(message, str) and message and "Traceback" not in message
    good = small_client.post(P1, json=GOOD)
    assert good.status_code == 200 and len(good.json()["predictions"]) == 1


def test_api_key(model_repo):
    with make_client(model_repo, api_key="s3cret") as c:
        assert c.post(P1, json=GOOD).status_code == 401
        assert c.post(P1, json=GOOD, headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.post(P1, json=GOOD, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.post(P2, json=_oip([1, 1, 28, 28]), headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/v2/models/mlp").json() == {"error": "missing or wrong API key"}
        for open_path in ("/v2/health/live", "/v2/health/ready", "/metrics"):
            assert c.get(open_path).status_code == 200


def test_unknown_route_and_method_are_json(small_client):
    assert small_client.get("/nope").json()["error"]["code"] == "not_found"
    assert small_client.get(P1).status_code == 405
