"""A drop-in for Triton and KServe clients, checked with tritonclient.http against a real server: statistics,
classification, compression both ways, the model repository extension (index/load/unload, and a rollout under
load with zero failed requests), /config from config.pbtxt, plain Triton repositories, and Triton's wording."""
import gzip
import json
import shutil
import subprocess
import sys
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as tc
from tritonclient.utils import InferenceServerException

from tests.service.conftest import start_server, wait_ready

X = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)


@pytest.fixture(scope="module")
def server(model_repo, tmp_path_factory):
    proc, port, log = start_server(model_repo, tmp_path_factory.mktemp("triton"))
    try:
        wait_ready(proc, port)
        yield port
    finally:
        proc.kill()
        proc.wait()
        log.close()


@contextmanager
def _client(port: int):
    client = tc.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def client(server):
    with _client(server) as c:
        yield c


def _infer(client, model="fasterkan", x=X, binary=True, **output_args):
    inp = tc.InferInput("images", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    return client.infer(model, [inp], outputs=[tc.InferRequestedOutput("logits", binary_data=binary, **output_args)])


def _count(client, model="fasterkan") -> tuple[int, int, int]:
    (stats,) = [s for s in client.get_inference_statistics(model)["model_stats"] if s["version"] == "1"]
    return stats["inference_count"], stats["execution_count"], stats["inference_stats"]["success"]["count"]


def test_statistics_count_exactly_what_was_sent(client):
    images, executions, requests = _count(client)
    for n in (1, 3, 2):
        _infer(client, x=X[:n])
    after = _count(client)
    assert after[0] - images == 6 and after[2] - requests == 3 and 1 <= after[1] - executions <= 3
    everything = client.get_inference_statistics()["model_stats"]
    assert {(s["name"], s["version"]) for s in everything} >= {("mlp", "1"), ("fasterkan", "1")}
    stats = client.get_inference_statistics("fasterkan", "1")["model_stats"][0]
    for phase in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
        assert stats["inference_stats"][phase]["count"] >= 3, phase
        assert stats["inference_stats"][phase]["ns"] > 0 or phase == "queue", phase  # a lone request runs unqueued
    assert stats["batch_stats"] and all(b["compute_infer"]["ns"] > 0 for b in stats["batch_stats"])
    with pytest.raises(InferenceServerException, match="Request for unknown model"):
        client.get_inference_statistics("nope")


def test_failed_requests_are_counted_as_fail(server):
    before = httpx.get(f"http://127.0.0.1:{server}/v2/models/mlp/versions/1/stats").json()["model_stats"][0]
    r = httpx.post(f"http://127.0.0.1:{server}/v2/models/mlp/versions/1/infer", json={"inputs": [
        {"name": "images", "datatype": "FP32", "shape": [1, 784], "data": [0.0] * 784}]})
    after = httpx.get(f"http://127.0.0.1:{server}/v2/models/mlp/versions/1/stats").json()["model_stats"][0]
    assert r.status_code == 400
    assert after["inference_stats"]["fail"]["count"] == before["inference_stats"]["fail"]["count"] + 1


@pytest.mark.parametrize("binary", [True, False])
def test_classification_is_argsort_of_the_logits(client, binary):
    logits = _infer(client, binary=binary).as_numpy("logits")
    top = _infer(client, binary=binary, class_count=3).as_numpy("logits")
    assert top.shape == (3, 3)
    for row, classes in zip(logits, top, strict=True):
        parsed = [(c.decode() if isinstance(c, bytes) else c).split(":") for c in classes]  # bytes when binary
        assert [int(p[1]) for p in parsed] == list(np.argsort(-row)[:3])
        assert np.allclose([float(p[0]) for p in parsed], np.sort(row)[::-1][:3], atol=1e-5)
        assert [p[2] for p in parsed] == [p[1] for p in parsed]  # MNIST's labels are the digits


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests_and_responses_round_trip(server, client, algorithm):
    plain = _infer(client).as_numpy("logits")
    inp = tc.InferInput("images", list(X.shape), "FP32")
    inp.set_data_from_numpy(X, binary_data=False)
    result = client.infer("fasterkan", [inp], request_compression_algorithm=algorithm,
                          response_compression_algorithm=algorithm)
    assert np.allclose(result.as_numpy("logits"), plain, atol=1e-5)
    r = httpx.get(f"http://127.0.0.1:{server}/v2/models/fasterkan", headers={"Accept-Encoding": algorithm})
    assert r.headers["content-encoding"] == algorithm and r.json()["name"] == "fasterkan"


def test_zip_bomb_is_a_413_not_an_out_of_memory(server):
    bomb = gzip.compress(b"[" + b"0," * (20 * 1024 * 1024) + b"0]")  # 40 MiB of JSON in ~40 KiB
    r = httpx.post(f"http://127.0.0.1:{server}/v2/models/mlp/infer", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["error"]
    for body, encoding, status in ((b"not gzip", "gzip", 400), (zlib.compress(b"{}")[:-3], "deflate", 400),
                                   (b"{}", "br", 415)):
        r = httpx.post(f"http://127.0.0.1:{server}/v2/models/mlp/infer", content=body,
                       headers={"Content-Encoding": encoding})
        assert r.status_code == status, (encoding, r.text)


def test_config_is_config_pbtxt_in_json(client, model_repo):
    config = client.get_model_config("fasterkan")
    assert config["input"][0]["format"] == "FORMAT_NCHW" and config["input"][0]["dims"] == [1, 28, 28]
    assert config["max_batch_size"] == 256 and config["output"][0]["label_filename"] == "labels.txt"
    assert "format: FORMAT_NCHW" in (model_repo / "fasterkan" / "config.pbtxt").read_text()


def test_unknown_models_use_tritons_wording(client):
    for call in (lambda: _infer(client, model="nope"), lambda: client.get_model_metadata("nope"),
                 lambda: client.get_model_metadata("mlp", "7")):
        with pytest.raises(InferenceServerException) as e:
            call()
        assert e.value.message().startswith("Request for unknown model: ")


@pytest.mark.parametrize("call", ["get_trace_settings", "get_log_settings", "get_system_shared_memory_status",
                                  "get_cuda_shared_memory_status"])
def test_extensions_not_served_say_why(client, call):
    with pytest.raises(InferenceServerException) as err:
        getattr(client, call)()
    assert err.value.status() == "404" and "not served by kanserve" in err.value.message()


def test_triton_style_client_runs_unmodified(server):
    for extra in ([], ["--request-compression-algorithm", "gzip", "--response-compression-algorithm", "deflate"]):
        r = subprocess.run([sys.executable, str(Path(__file__).parent / "triton_style_client.py"), "-u",
                            f"127.0.0.1:{server}", *extra], capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 0 and r.stdout.rstrip().endswith("PASS"), r.stdout + r.stderr


@pytest.fixture
def own_server(repo_copy, tmp_path):
    """A server on a repository the test may change."""
    proc, port, log = start_server(repo_copy, tmp_path)
    try:
        wait_ready(proc, port)
        yield port, repo_copy
    finally:
        proc.kill()
        proc.wait()
        log.close()


def _add_version(repo: Path, name: str, source: str, version: str) -> None:
    """Copy version `source` in as `version` and list it in index.json (what an operator rolling out does)."""
    shutil.copytree(repo / name / source, repo / name / version)
    meta = json.loads((repo / name / version / "metadata.json").read_text())
    (repo / name / version / "metadata.json").write_text(json.dumps({**meta, "version": version}))
    _edit_index(repo, lambda rows: rows.append({**next(r for r in rows if (r["name"], r["version"]) == (
        name, source)), "version": version, "path": f"{name}/{version}/model.onnx"}))


def _edit_index(repo: Path, edit) -> None:
    index = json.loads((repo / "index.json").read_text())
    edit(index["models"])
    (repo / "index.json").write_text(json.dumps(index))


def test_repository_index_load_and_unload(own_server):
    port, repo = own_server
    with _client(port) as client:
        _index_load_unload(client, repo)


def _index_load_unload(client, repo: Path) -> None:
    states = {(m["name"], m["version"]): m["state"] for m in client.get_model_repository_index()}
    assert states[("mlp", "1")] == "READY"
    client.unload_model("mlp")
    assert not client.is_model_ready("mlp")
    with pytest.raises(InferenceServerException, match="Request for unknown model: 'mlp' has no available"):
        _infer(client, model="mlp")
    index = {(m["name"], m["version"]): m for m in client.get_model_repository_index()}
    assert index[("mlp", "1")]["state"] == "UNAVAILABLE" and index[("mlp", "1")]["reason"] == "unloaded"
    client.load_model("mlp")
    assert client.is_model_ready("mlp") and _infer(client, model="mlp").as_numpy("logits").shape == (3, 10)
    _add_version(repo, "fasterkan", "1", "7")
    client.load_model("fasterkan")
    assert client.is_model_ready("fasterkan", "7")
    assert client.get_model_metadata("fasterkan")["versions"] == ["1", "2", "7"]


def test_a_failed_load_keeps_the_old_version_serving(own_server):
    port, repo = own_server
    _add_version(repo, "fasterkan", "1", "7")
    model = repo / "fasterkan" / "7" / "model.onnx"
    model.write_bytes(model.read_bytes()[:-100])  # no longer what index.json says
    with _client(port) as client:
        with pytest.raises(InferenceServerException, match=r"failed to load 'fasterkan'.*version 7: sha256 mismatch"):
            client.load_model("fasterkan")
        assert client.is_model_ready("fasterkan", "1") and not client.is_model_ready("fasterkan", "7")
        assert _infer(client).as_numpy("logits").shape == (3, 10)


ROLLOUT_LOAD = """
import json, sys, threading, time, httpx
url, seconds = sys.argv[1], float(sys.argv[2])
body = json.dumps({"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 1, 28, 28], "data": [0.5] * 784}]})
codes, versions = [], set()
def go():
    with httpx.Client(timeout=30) as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r = c.post(url, content=body)
            codes.append(r.status_code)
            if r.status_code == 200:
                versions.add(r.json()["model_version"])
threads = [threading.Thread(target=go) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"n": len(codes), "non_2xx": sum(c // 100 != 2 for c in codes), "versions": sorted(versions)}))
"""


def test_rollout_under_load_fails_no_request(own_server):
    """A new fp32 version 7 is copied in and loaded, then version 1 is unlisted and the model reloaded, while 8
    clients keep sending unversioned requests: every request succeeds, and the answers move from 1 to 7."""
    port, repo = own_server
    load = subprocess.Popen([sys.executable, "-c", ROLLOUT_LOAD, f"http://127.0.0.1:{port}/v2/models/fasterkan/infer",
                             "8"], stdout=subprocess.PIPE, text=True)
    with _client(port) as client:
        time.sleep(1.5)
        _add_version(repo, "fasterkan", "1", "7")
        client.load_model("fasterkan")
        time.sleep(1.5)
        _edit_index(repo, lambda rows: rows.remove(next(r for r in rows if (r["name"], r["version"]) == (
            "fasterkan", "1"))))
        client.load_model("fasterkan")
        assert client.get_model_metadata("fasterkan")["versions"] == ["2", "7"]
    out, _ = load.communicate(timeout=60)
    result = json.loads(out)
    assert result["n"] > 100 and result["non_2xx"] == 0 and result["versions"] == ["1", "7"], result


def test_plain_triton_repository_serves(tmp_path, model_repo):
    """<model>/config.pbtxt + <model>/1/model.onnx, nothing of kanserve's; and a bare ONNX file with no config."""
    for name in ("fasterkan", "mlp"):
        (tmp_path / name / "1").mkdir(parents=True)
        shutil.copy(model_repo / name / "1" / "model.onnx", tmp_path / name / "1" / "model.onnx")
    shutil.copy(model_repo / "fasterkan" / "config.pbtxt", tmp_path / "fasterkan" / "config.pbtxt")
    shutil.copy(model_repo / "fasterkan" / "labels.txt", tmp_path / "fasterkan" / "labels.txt")
    proc, port, log = start_server(tmp_path, tmp_path)
    try:
        wait_ready(proc, port)
        with _client(port) as client:
            _plain_repository_answers(client)
    finally:
        proc.kill()
        proc.wait()
        log.close()


def _plain_repository_answers(client) -> None:
    for name in ("fasterkan", "mlp"):
        assert _infer(client, model=name).as_numpy("logits").shape == (3, 10)
        assert client.get_model_config(name)["input"][0]["dims"] == [1, 28, 28]
    assert client.get_model_config("fasterkan")["input"][0]["format"] == "FORMAT_NCHW"
    assert _infer(client, class_count=1).as_numpy("logits")[0][0].count(b":") == 2
