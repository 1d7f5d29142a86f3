"""Hostile and unusual clients against a real `kanserve serve` process on 127.0.0.1: slow and vanishing clients,
keep-alive after errors, upload storms, shutdown drains, malformed repositories, and logs that stay JSON."""
import http.client
import io
import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.service.conftest import png_header_only, start_server, wait_ready

GOOD_V2 = {"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 1, 28, 28], "data": [0.5] * 784}]}


@pytest.fixture(scope="module")
def server(model_repo, tmp_path_factory):
    proc, port, log = start_server(model_repo, tmp_path_factory.mktemp("hostile"), KANSERVE_HEADER_TIMEOUT_S="1",
                                   KANSERVE_BODY_TIMEOUT_S="1")
    try:
        wait_ready(proc, port)
        yield proc, port, log
    finally:
        proc.kill()
        proc.wait()
        log.close()


def _raw(port: int, data: bytes, wait_s: float = 3.0) -> bytes:
    """Send `data`, then read until the server closes the connection (or `wait_s`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def _json_body(response: bytes) -> dict:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])


def test_keep_alive_connection_survives_a_bad_request(server):
    _, port, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for body, status in ((GOOD_V2 | {"parameters": [1]}, 400), (GOOD_V2, 200), ({"inputs": "x"}, 400), (GOOD_V2, 200)):
        conn.request("POST", "/v2/models/mlp/infer", json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        payload = json.loads(r.read())
        assert r.status == status, payload
        assert ("error" in payload) == (status != 200)
    conn.close()


def test_slow_headers_get_408_and_the_connection_closes(server):
    _, port, _ = server
    t0 = time.monotonic()
    reply = _raw(port, b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    assert reply.startswith(b"HTTP/1.1 408") and "headers" in _json_body(reply)["error"]
    assert time.monotonic() - t0 < 2.5
    assert _raw(port, b"").startswith(b"HTTP/1.1 408")  # a connection that never says anything


def test_slow_body_gets_408(server):
    _, port, _ = server
    reply = _raw(port, b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"inp")
    assert reply.startswith(b"HTTP/1.1 408") and "body" in _json_body(reply)["error"]


def test_malformed_http_is_a_json_400(server):
    _, port, _ = server
    reply = _raw(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and _json_body(reply)["error"]


def test_client_vanishing_mid_body_is_not_a_server_error(server):
    _, port, log = server
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"inputs\": [")
        time.sleep(0.3)
    time.sleep(0.5)
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'endpoint="/v2/models/{name}/infer",model="mlp",status="499"' in metrics
    assert 'status="500"' not in metrics
    log.seek(0)
    assert "unhandled error" not in log.read()


def test_two_comparisons_at_once_give_409(server):
    _, port, _ = server
    url = f"http://127.0.0.1:{port}/v1/compare"
    first: dict = {}
    slow = threading.Thread(target=lambda: first.update(r=httpx.post(url, json={
        "iterations": 1000, "warmup": 0, "batch_size": 64}, timeout=30)))
    slow.start()
    time.sleep(2.0)  # the first one is running (it takes about 10 s: its wall-time cap)
    r = httpx.post(url, json={"iterations": 1, "warmup": 0}, timeout=30)
    slow.join(30)
    assert r.status_code == 409 and r.json()["error"]["code"] == "busy" and r.headers["retry-after"] == "5"
    assert first["r"].status_code == 200 and first["r"].json()["config"]["truncated_at_wall_s"] == 10


def test_compare_wall_cap_covers_warmup(server):
    _, port, _ = server
    t0 = time.monotonic()
    r = httpx.post(f"http://127.0.0.1:{port}/v1/compare", json={"warmup": 100, "batch_size": 256, "iterations": 1},
                   timeout=60)
    assert r.status_code == 200 and time.monotonic() - t0 < 13  # 10 s cap + one round + HTTP
    config = r.json()["config"]
    assert config["requested_warmup"] == 100 and config["iterations"] == 1


def _big_png(side: int = 3000) -> bytes:
    a = np.zeros((side, side), np.uint8)
    a[side // 4: -side // 4, side // 2 - side // 20: side // 2 + side // 20] = 255
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


UPLOADER = textwrap.dedent("""
    import sys, threading, time, httpx
    url, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    data = open(path, "rb").read()
    def go():
        with httpx.Client(timeout=60) as c:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                c.post(url, files={"file": ("d.png", data, "image/png")})
    threads = [threading.Thread(target=go) for _ in range(16)]
    [t.start() for t in threads]; [t.join() for t in threads]
""")


def test_health_stays_fast_under_sixteen_big_uploads(server, tmp_path):
    """Image decoding runs in the worker pool, so liveness answers in well under Kubernetes' 2 s probe timeout."""
    _, port, _ = server
    png = tmp_path / "big.png"
    png.write_bytes(_big_png())
    uploads = subprocess.Popen([sys.executable, "-c", UPLOADER, f"http://127.0.0.1:{port}/v1/models/mlp/predict",
                                str(png), "6"])
    try:
        time.sleep(1.0)  # the storm is on
        latencies = []
        with httpx.Client() as c:
            while uploads.poll() is None and len(latencies) < 200:
                t0 = time.perf_counter()
                assert c.get(f"http://127.0.0.1:{port}/v2/health/live").status_code == 200
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.02)
    finally:
        uploads.wait(60)
    assert len(latencies) >= 50
    assert np.percentile(latencies, 99) < 0.1, sorted(latencies)[-5:]


def test_every_log_line_is_json(server):
    """A PNG header claiming 10,000² pixels: Pillow warns (DecompressionBombWarning) as it opens it, before our own
    limit refuses it; that warning once reached stderr as a plain line."""
    _, port, log = server
    png = png_header_only(10_000, 10_000)
    r = httpx.post(f"http://127.0.0.1:{port}/v1/models/mlp/predict", files={"file": ("big.png", png)})
    assert r.status_code == 400 and "too large" in r.json()["error"]["message"]
    time.sleep(0.3)
    log.seek(0)
    lines = [line for line in log.read().splitlines() if line.strip()]
    assert lines and all(line.startswith("{") and json.loads(line) for line in lines), \
        [line for line in lines if not line.startswith("{")][:3]


def test_sigterm_drains_in_flight_requests_and_exits_0(model_repo, tmp_path):
    proc, port, log = start_server(model_repo, tmp_path)
    try:
        wait_ready(proc, port)
        url = f"http://127.0.0.1:{port}/v1/compare"
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(r=httpx.post(url, json={
            "iterations": 1000, "warmup": 0, "batch_size": 32}, timeout=60)))
        t.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert result["r"].status_code == 200 and result["r"].json()["config"]["iterations"] > 0
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        log.close()


def test_drain_timeout_cuts_requests_with_a_json_503(model_repo, tmp_path):
    proc, port, log = start_server(model_repo, tmp_path, KANSERVE_SHUTDOWN_TIMEOUT_S="0.5")
    try:
        wait_ready(proc, port)
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(r=httpx.post(f"http://127.0.0.1:{port}/v1/compare", json={
            "iterations": 1000, "warmup": 0, "batch_size": 32}, timeout=60)))
        t.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        r = result["r"]
        assert r.status_code == 503 and r.json()["error"]["code"] == "shutting_down", r.text
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        log.close()


def _serve_fails(repo) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kanserve.cli", "serve", "--port", "0", "--model-repository",
                           str(repo)], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("damage,needle", [
    (lambda r: _edit_index(r, lambda rows: rows[0].pop("version")), "index.json row 0: 'version'"),
    (lambda r: (r / "index.json").write_text("{not json"), "index.json: unreadable JSON"),
    (lambda r: _edit_index(r, lambda rows: rows[0].update(path="../../etc/passwd")), "leaves the repository"),
    (lambda r: (r / "mlp/1/metadata.json").write_text("[1, 2]"), "mlp/1/metadata.json: not a valid model contract"),
    (lambda r: (r / "mlp/1/metadata.json").write_text('{"name": "mlp"}'), "mlp/1/metadata.json"),
])
def test_malformed_repository_exits_2_with_a_message(repo_copy, damage, needle):
    damage(repo_copy)
    r = _serve_fails(repo_copy)
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def _edit_index(repo, edit) -> None:
    index = json.loads((repo / "index.json").read_text())
    edit(index["models"])
    (repo / "index.json").write_text(json.dumps(index))


def test_readiness_reasons_carry_no_paths_or_library_internals(repo_copy):
    from tests.service.conftest import make_client

    (repo_copy / "mlp/1/model.onnx").write_bytes(b"not an onnx file")
    meta = json.loads((repo_copy / "mlp/1/metadata.json").read_text())
    (repo_copy / "mlp/1/metadata.json").write_text(json.dumps({**meta, "sha256": None}))
    _edit_index(repo_copy, lambda rows: [row.pop("sha256") for row in rows])
    with make_client(repo_copy) as c:
        reason = c.get("/v2/health/ready").json()["error"]
        listing = c.get("/v1/models/mlp").json()["error"]
    for text in (reason, listing):
        assert str(repo_copy) not in text and "/work" not in text and "/tmp" not in text, text
    assert "mlp/1: onnxruntime could not load or run the model (INVALID_PROTOBUF)" in reason
