"""End to end against a real `kanserve serve` process on 127.0.0.1: startup, predict, OIP via tritonclient,
JSON logs, bad configuration, and graceful shutdown on SIGTERM with a request in flight."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest

from tests.conftest import expected_provider
from tests.service.conftest import free_port, start_server, wait_ready

IMG = np.full((28, 28), 0.5).tolist()


@pytest.fixture(scope="module")
def server(model_repo, tmp_path_factory):
    proc, port, log = start_server(model_repo, tmp_path_factory.mktemp("e2e"))
    try:
        wait_ready(proc, port)
        yield proc, port, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_predict_over_http_with_json_logs(server):
    _, port, log = server
    r = httpx.post(f"http://127.0.0.1:{port}/v1/models/mlp/predict", json={"images": [IMG, IMG]},
                   headers={"X-Request-ID": "e2e-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "e2e-1"
    assert len(r.json()["predictions"]) == 2
    time.sleep(0.2)
    log.seek(0)
    records = [json.loads(line) for line in log if line.startswith("{")]
    assert any(rec.get("request_id") == "e2e-1" and rec.get("status") == 200 for rec in records)
    assert any(rec.get("msg") == "model ready" and rec.get("provider") == expected_provider() for rec in records)


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_infer(server, binary):
    import tritonclient.http as tc

    _, port, _ = server
    client = tc.InferenceServerClient(f"127.0.0.1:{port}")
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("fasterkan")
    assert client.get_model_metadata("fasterkan")["inputs"][0]["name"] == "images"
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    inp = tc.InferInput("images", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = tc.InferRequestedOutput("logits", binary_data=binary)
    logits = client.infer("fasterkan", [inp], outputs=[out]).as_numpy("logits")
    plain = client.infer("fasterkan", [inp]).as_numpy("logits")  # default requested outputs
    assert logits.shape == (4, 10) and np.allclose(logits, plain, atol=1e-5)
    with pytest.raises(tc.InferenceServerException, match="unknown model"):
        client.infer("nope", [inp])


def test_sigterm_lets_the_in_flight_request_finish(model_repo, tmp_path):
    proc, port, log = start_server(model_repo, tmp_path)
    try:
        wait_ready(proc, port)
        url = f"http://127.0.0.1:{port}/v1/compare"
        probe = httpx.post(url, json={"iterations": 5, "warmup": 0, "batch_size": 8}, timeout=30).json()
        per_round = sum(m["mean_ms"] for m in probe["latency"].values()) / 1e3
        iterations = int(min(1000, max(20, 2.0 / per_round)))  # about 2 s of work in flight
        result = {}

        def slow():
            result["r"] = httpx.post(url, json={"iterations": iterations, "batch_size": 8}, timeout=60)

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert result["r"].status_code == 200 and result["r"].json()["config"]["iterations"] > 0
        # uvicorn re-raises the signal once its graceful shutdown is done, so -SIGTERM is a clean exit too.
        assert proc.wait(30) in (0, -signal.SIGTERM)
        log.seek(0)
        assert "Application shutdown complete" in log.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


@pytest.mark.parametrize("env,needle", [({"KANSERVE_PORT": "not-a-port"}, "bad configuration"),
                                        ({"KANSERVE_REQUIRE_CUDA": "1"}, "REQUIRE_CUDA")])
def test_bad_configuration_exits_non_zero(model_repo, tmp_path, env, needle):
    cmd = [sys.executable, "-m", "kanserve.cli", "serve", "--model-repository", str(model_repo)]
    if "KANSERVE_PORT" not in env:
        cmd += ["--port", str(free_port())]
    r = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode != 0 and needle in r.stdout + r.stderr


def test_missing_repository_exits_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kanserve.cli", "serve", "--model-repository", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and "not a directory" in r.stderr
