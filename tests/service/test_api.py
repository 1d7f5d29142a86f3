"""The /v1 and /v2 surfaces, metrics and request ids against the ASGI app (TestClient, lifespan included)."""
import base64
import io
import json

import numpy as np
import pytest

from tests.conftest import expected_provider
from tests.service.conftest import png_digit

RNG = np.random.default_rng(0)
IMG = RNG.random((28, 28)).round(3).tolist()


def test_models_listing_reports_provider_and_checksum(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert set(models) == {"mlp", "fasterkan"}
    for m in models.values():
        assert m["ready"] and m["provider"] == expected_provider() and len(m["sha256"]) == 64
    assert client.get("/v1/models/mlp").json()["inputs"][0]["shape"] == [-1, 1, 28, 28]


@pytest.mark.parametrize("payload,n", [
    ({"images": [IMG, IMG, IMG]}, 3),
    ({"images": IMG}, 1),
    ({"image": (np.array(IMG) * 255).astype(int).tolist()}, 1),
    ({"images": [[IMG]]}, 1),
    ({"image_base64": base64.b64encode(png_digit()).decode()}, 1),
    ({"images_base64": [base64.b64encode(png_digit()).decode()] * 2}, 2),
])
def test_predict_json_forms(client, payload, n):
    r = client.post("/v1/models/fasterkan/predict", json=payload)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "fasterkan" and body["version"] == "1" and len(body["predictions"]) == n
    p = body["predictions"][0]
    assert 0 <= p["label"] <= 9 and abs(sum(p["probabilities"]) - 1) < 1e-4
    assert {"queue_ms", "inference_ms", "total_ms"} <= set(body["timings"])


def test_predict_multipart_upload(client):
    files = [("files", ("a.png", png_digit(), "image/png")), ("files", ("b.png", png_digit(40), "image/png"))]
    r = client.post("/v1/models/mlp/predict", files=files)
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 2


def test_int_and_float_pixels_agree(client):
    ints = RNG.integers(0, 256, (2, 28, 28))
    a = client.post("/v1/models/mlp/predict", json={"images": ints.tolist()}).json()["predictions"]
    b = client.post("/v1/models/mlp/predict", json={"images": (ints / 255).tolist()}).json()["predictions"]
    assert np.allclose([p["probabilities"] for p in a], [p["probabilities"] for p in b], atol=1e-5)


def test_compare_side_by_side(client):
    r = client.post("/v1/compare", json={"images": [IMG, IMG], "iterations": 20, "warmup": 2, "batch_size": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["models"] == ["mlp", "fasterkan"] and body["predictions"]["n"] == 2
    assert set(body["predictions"]["per_image"][0]) == {"mlp", "fasterkan"}
    for stats in body["latency"].values():
        assert stats["n"] == 20 and stats["p50_ms"] > 0 and stats["throughput_images_per_s"] > 0
    ratio = body["ratios"]["fasterkan/mlp"]
    assert ratio["ci_low"] <= ratio["ratio"] <= ratio["ci_high"]


def test_v2_metadata_and_health(client):
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert "binary_tensor_data" in client.get("/v2").json()["extensions"]
    meta = client.get("/v2/models/mlp/versions/1").json()
    assert meta["inputs"][0]["name"] == "images" and meta["parameters"]["execution_provider"]
    assert client.get("/v2/models/mlp/ready").status_code == 200
    assert client.get("/v2/models/mlp/versions/9/ready").status_code == 404


def _infer_json(x: np.ndarray) -> dict:
    return {"id": "r1", "inputs": [{"name": "images", "datatype": "FP32", "shape": list(x.shape),
                                    "data": x.reshape(-1).tolist()}]}


def test_v2_infer_json_without_content_type(client):
    x = RNG.random((2, 1, 28, 28), dtype=np.float32)
    r = client.post("/v2/models/mlp/infer", content=json.dumps(_infer_json(x)).encode())
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == "r1" and out["model_name"] == "mlp" and out["outputs"][0]["shape"] == [2, 10]


def test_v2_infer_binary_in_and_out(client):
    x = RNG.random((3, 1, 28, 28), dtype=np.float32)
    header = {"inputs": [{"name": "images", "datatype": "FP32", "shape": [3, 1, 28, 28],
                          "parameters": {"binary_data_size": x.nbytes}}],
              "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}
    head = json.dumps(header).encode()
    r = client.post("/v2/models/fasterkan/versions/1/infer", content=head + x.tobytes(),
                    headers={"Inference-Header-Content-Length": str(len(head))})
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    out = json.loads(r.content[:n])["outputs"][0]
    logits = np.frombuffer(r.content[n:], "<f4").reshape(out["shape"])
    ref = client.post("/v2/models/fasterkan/infer", content=json.dumps(_infer_json(x))).json()["outputs"][0]
    assert np.allclose(logits.reshape(-1), ref["data"], atol=1e-5)


def test_metrics_and_request_id(client):
    r = client.post("/v1/models/mlp/predict", json={"images": IMG}, headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/v2/health/live").headers["x-request-id"]) == 32
    text = client.get("/metrics").text
    for needle in ('kanserve_requests_total{endpoint="/v1/models/{name}/predict",model="mlp",status="200"}',
                   "kanserve_queue_duration_seconds_bucket", 'le="5e-05"', "kanserve_compute_infer_duration_seconds",
                   "kanserve_batch_size_bucket", "kanserve_pending_images", f'provider="{expected_provider()}"'):
        assert needle in text, needle


def test_debug_shows_what_the_model_saw_and_where(client):
    r = client.post("/v1/models/fasterkan/predict?debug=true", files={"file": ("d.png", png_digit(56), "image/png")})
    assert r.status_code == 200, r.text
    (seen,) = r.json()["debug"]
    left, top, right, bottom = seen["bbox"]
    assert abs(left - 25) <= 2 and abs(right - 31) <= 2 and abs(top - 11) <= 2 and abs(bottom - 45) <= 2
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(seen["image_png_base64"]))))
    assert image.shape == (28, 28) and image.max() == 255 and seen["inverted"] is False
    pixels = client.post("/v1/models/fasterkan/predict?debug=true", json={"images": IMG}).json()["debug"][0]
    assert pixels["bbox"] is None and "debug" not in client.post("/v1/models/fasterkan/predict",
                                                                 json={"images": IMG}).json()


def test_precision_is_chosen_by_query_and_in_compare(client):
    assert client.post("/v1/models/mlp/predict", json={"images": IMG}).json()["precision"] == "fp32"
    int8 = client.post("/v1/models/mlp/predict?precision=int8", json={"images": IMG}).json()
    assert (int8["version"], int8["precision"]) == ("2", "int8")
    missing = client.post("/v1/models/mlp/predict?precision=fp16", json={"images": IMG})
    assert missing.status_code == 404 and "no fp16 version" in missing.json()["error"]["message"]
    assert client.post("/v1/models/mlp/predict?precision=fp8", json={"images": IMG}).status_code == 400
    r = client.post("/v1/compare", json={"models": ["mlp:int8", "mlp"], "images": [IMG], "iterations": 5})
    body = r.json()
    assert r.status_code == 200 and body["models"] == ["mlp:int8", "mlp"]
    assert body["latency"]["mlp:int8"]["precision"] == "int8" and body["latency"]["mlp"]["version"] == "1"
    assert set(body["ratios"]) == {"mlp/mlp:int8"} and body["predictions"]["n"] == 1
