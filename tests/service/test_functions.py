"""The KAN's learned functions on the API: GET /v1/models/{name}/functions (shapes, ranking, limits, 404 for the
MLP), ?explain=true (contributions add up to the served logit; the logits served are unchanged), compare samples,
and a damaged functions.json that leaves the model itself served."""
import json

import numpy as np
import pytest

from models.data import load_mnist
from tests.service.conftest import make_client


@pytest.fixture(scope="module")
def digits(data_dir) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist("test", data_dir)
    return (images[:8] / 255.0).astype(np.float32), labels[:8]


def _served_logits(client, x: np.ndarray) -> np.ndarray:
    """/v2 logits as float32 bytes (the binary extension): what the model served, exactly."""
    header = json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": [len(x), 1, 28, 28],
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
    r = client.post("/v2/models/fasterkan/infer", content=header + x.tobytes(),
                    headers={"Inference-Header-Content-Length": str(len(header))})
    n = int(r.headers["inference-header-content-length"])
    return np.frombuffer(r.content[n:], "<f4").reshape(len(x), 10)


def test_explain_contributions_add_up_to_the_served_logit(client, digits):
    x, labels = digits
    plain = client.post("/v1/models/fasterkan/predict", json={"images": x.tolist()}).json()
    r = client.post("/v1/models/fasterkan/predict?explain=true", json={"images": x.tolist()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["predictions"] == plain["predictions"]  # explain changes nothing that is served
    logits = _served_logits(client, x)
    assert [e["label"] for e in body["explain"]] == logits.argmax(1).tolist() == labels.tolist()
    for e, row in zip(body["explain"], logits, strict=True):
        assert e["logit"] == float(row[e["label"]])  # the served float32, not a recomputation
        assert len(e["contributions"]) == 16 and [len(u) for u in e["edge_inputs"]] == [256, 128, 64, 32, 16]
        assert abs(sum(e["contributions"]) + e["bias"] - e["logit"]) <= 1e-4
        assert abs(e["sum"] - e["logit"]) <= 1e-4 and e["bias"] == 0.0
        assert max(e["contributions"]) > 0  # some edges voted for the digit


def test_contributions_lie_on_the_served_curves(client, digits):
    """/functions and ?explain=true describe one set of functions: each contribution φ_{c,i}(u_i) is the last
    layer's curve (c, i) at u_i (read by interpolation between 512 samples)."""
    x, _ = digits
    e = client.post("/v1/models/fasterkan/predict?explain=true", json={"images": x[:1].tolist()}).json()["explain"][0]
    curves = client.get("/v1/models/fasterkan/functions?layer=4&top=160&points=512").json()["layers"][0]["edges"]
    by_edge = {(c["out"], c["in"]): c for c in curves}
    checked = 0
    for i, (u, phi) in enumerate(zip(e["edge_inputs"][4], e["contributions"], strict=True)):
        curve = by_edge[e["label"], i]
        if curve["range"][0] <= u <= curve["range"][1]:
            assert np.interp(u, curve["x"], curve["y"]) == pytest.approx(phi, abs=2e-3)
            checked += 1
    assert checked >= 12


def test_functions_of_one_layer_ranked_with_their_ranges(client):
    r = client.get("/v1/models/fasterkan/functions?layer=4&top=160&points=16")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["model"], body["version"], body["architecture"]) == ("fasterkan", "1", "fasterkan")
    assert body["measured"]["images"] == 2048 and body["measured"]["split"] == "train"
    (layer,) = body["layers"]
    assert (layer["index"], layer["inputs"], layer["outputs"], layer["kind"]) == (4, 16, 10, "fasterkan")
    edges = layer["edges"]
    assert len(edges) == 160 and len({(e["out"], e["in"]) for e in edges}) == 160  # every edge, once
    importance = [e["importance"] for e in edges]
    assert importance == sorted(importance, reverse=True) and importance[-1] > 0
    for e in edges:
        low, high = e["range"]
        assert len(e["x"]) == len(e["y"]) == 16 and low < high
        assert e["x"][0] == pytest.approx(low, abs=1e-6) and e["x"][-1] == pytest.approx(high, abs=1e-6)
        assert np.all(np.diff(e["x"]) > 0)


def test_functions_of_every_layer_by_default(client):
    body = client.get("/v1/models/fasterkan/functions").json()
    assert [(lay["index"], lay["inputs"], lay["outputs"], len(lay["edges"])) for lay in body["layers"]] == [
        (0, 256, 128, 16), (1, 128, 64, 16), (2, 64, 32, 16), (3, 32, 16, 16), (4, 16, 10, 16)]
    assert all(len(e["y"]) == 32 for lay in body["layers"] for e in lay["edges"])


@pytest.mark.parametrize("query,message", [
    ("layer=5", "layer must be in 0..4"), ("top=0", "top"), ("points=1", "points"), ("layer=-1", "layer"),
    ("top=100000&points=512", "above the limit"),
])
def test_functions_limits(client, query, message):
    r = client.get(f"/v1/models/fasterkan/functions?{query}")
    assert r.status_code == 400 and message in r.json()["error"]["message"], r.text


def test_an_mlp_has_no_learnable_activation_functions(client):
    r = client.get("/v1/models/mlp/functions")
    assert r.status_code == 404 and "no learnable activation functions" in r.json()["error"]["message"]
    r = client.post("/v1/models/mlp/predict?explain=true", json={"images": np.zeros((28, 28)).tolist()})
    assert r.status_code == 400 and "no learnable activation functions" in r.json()["error"]["message"]
    assert client.get("/v1/models/nope/functions").status_code == 404
    cards = {(m["name"], m["precision"]): m["functions"] for m in client.get("/v1/models").json()["models"]}
    assert cards == {("mlp", "fp32"): False, ("mlp", "int8"): False, ("fasterkan", "fp32"): True,
                     ("fasterkan", "int8"): False}  # explanations are exact for fp32 only


def test_compare_returns_every_run_when_asked(client):
    body = client.post("/v1/compare", json={"iterations": 12, "warmup": 1, "samples": True}).json()
    assert {m: len(s) for m, s in body["samples_ms"].items()} == {"mlp": 12, "fasterkan": 12}
    assert all(v > 0 for s in body["samples_ms"].values() for v in s)
    assert "samples_ms" not in client.post("/v1/compare", json={"iterations": 2, "warmup": 0}).json()


def test_a_damaged_functions_file_leaves_the_model_served(repo_copy):
    path = repo_copy / "fasterkan" / "1" / "functions.json"
    path.write_bytes(path.read_bytes().replace(b'"train"', b'"tr4in"'))
    with make_client(repo_copy) as client:
        assert client.post("/v1/models/fasterkan/predict", json={"images": np.zeros((28,
                                                                                     28)).tolist()}).status_code == 200
        r = client.get("/v1/models/fasterkan/functions")
        assert r.status_code == 404 and "sha256 does not match" in r.json()["error"]["message"]
        assert client.get("/v1/models/fasterkan").json()["functions"] is False
