"""Loading, readiness, provider truth and dynamic batching."""
import asyncio
import json

import numpy as np
import pytest

from kanserve.repository import scan
from service import gpu
from service.batching import Batcher
from service.errors import Overloaded
from service.metrics import Metrics
from service.runtime import load_model
from tests.service.conftest import make_client

GOOD = {"images": np.zeros((28, 28)).tolist()}


def test_corrupt_model_is_not_ready_and_other_model_serves(repo_copy):
    onnx = repo_copy / "mlp" / "1" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"corrupted!")
    with make_client(repo_copy) as c:
        r = c.get("/v2/health/ready")
        assert r.status_code == 503 and "mlp/1: sha256 mismatch" in r.json()["error"]
        assert c.get("/v2/models/mlp/ready").status_code == 503
        info = c.get("/v1/models/mlp").json()
        assert info["ready"] is False and "sha256" in info["error"]
        assert c.post("/v1/models/mlp/predict", json=GOOD).status_code == 503
        assert c.post("/v1/models/fasterkan/predict", json=GOOD).status_code == 200


def test_missing_model_file_and_unloadable_onnx(repo_copy):
    (repo_copy / "fasterkan" / "1" / "model.onnx").unlink()
    meta_path = repo_copy / "mlp" / "1" / "metadata.json"
    (repo_copy / "mlp" / "1" / "model.onnx").write_bytes(b"not an onnx file")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "sha256": None}))
    index = json.loads((repo_copy / "index.json").read_text())
    for row in index["models"]:
        row.pop("sha256")
    (repo_copy / "index.json").write_text(json.dumps(index))
    with make_client(repo_copy) as c:
        reasons = c.get("/v2/health/ready").json()["error"]
        assert "fasterkan/1: model file missing" in reasons and "mlp/1: " in reasons
        assert c.get("/v2/health/live").status_code == 200


@pytest.mark.skipif(gpu.status().usable, reason="a usable GPU: provider=cuda lands on CUDA (see the cuda twin)")
def test_cuda_request_reports_cpu_and_require_cuda_refuses(model_repo):
    with make_client(model_repo, provider="cuda") as c:
        assert c.get("/v1/models/mlp").json()["provider"] == "CPUExecutionProvider"
    with pytest.raises(RuntimeError, match="REQUIRE_CUDA"), make_client(model_repo, require_cuda=True):
        pass


@pytest.mark.cuda
def test_cuda_request_lands_on_cuda(model_repo):
    with make_client(model_repo, provider="cuda", require_cuda=True) as c:
        assert c.get("/v1/models/mlp").json()["provider"] == "CUDAExecutionProvider"


def test_bad_repository_refuses_to_start(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        scan(tmp_path / "missing")


@pytest.fixture(scope="module")
def runtime(model_repo):
    entry = next(e for e in scan(model_repo) if e.name == "fasterkan")
    return load_model(entry, "cpu", 1, 256)


async def _request(batcher: Batcher, x: np.ndarray, parse_s: float = 0.0):
    """What a route does: reserve, 'parse' for a while, submit."""
    async with batcher.reserve() as slot:
        await asyncio.sleep(parse_s)
        return await slot.submit(x)


def _run(batcher: Batcher, coro):
    try:
        return asyncio.run(coro)
    finally:
        batcher.close()


def test_batcher_waits_for_announced_requests(runtime):
    """The first request submits at once, the others 50-150 ms later: merged only because they announced."""
    batcher = Batcher(runtime, max_delay_s=0.5, max_queue=64, metrics=Metrics())
    xs = [np.random.default_rng(i).random((i + 1, 1, 28, 28), dtype=np.float32) for i in range(4)]

    async def go():
        return await asyncio.gather(*(_request(batcher, x, 0.05 * i) for i, x in enumerate(xs)))

    results = _run(batcher, go())
    assert [r.batch_size for r in results] == [10] * 4
    for x, r in zip(xs, results, strict=True):
        assert np.allclose(r.output, runtime.run(x), atol=1e-5)


def test_lone_request_does_not_wait_for_the_window(runtime):
    batcher = Batcher(runtime, max_delay_s=5.0, max_queue=64, metrics=Metrics())
    result = _run(batcher, asyncio.wait_for(_request(batcher, np.zeros((1, 1, 28, 28), np.float32)), 2.0))
    assert result.batch_size == 1 and result.queue_s < 1.0


def test_lone_small_request_runs_inline_and_is_counted(runtime):
    metrics = Metrics()
    batcher = Batcher(runtime, max_delay_s=0.5, max_queue=64, metrics=metrics, inline_budget_s=1.0)
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    result = _run(batcher, _request(batcher, x))
    assert result.queue_s == 0.0 and np.allclose(result.output, runtime.run(x), atol=1e-5)
    assert metrics.registry.get_sample_value("kanserve_inference_count_total", {"model": "fasterkan"}) == 2


def test_concurrent_requests_are_not_run_inline(runtime):
    batcher = Batcher(runtime, max_delay_s=0.5, max_queue=64, metrics=Metrics(), inline_budget_s=1.0)
    x = np.zeros((1, 1, 28, 28), np.float32)

    async def go():
        return await asyncio.gather(*(_request(batcher, x) for _ in range(3)))

    assert [r.batch_size for r in _run(batcher, go())] == [3, 3, 3]


def test_zero_delay_disables_merging(runtime):
    batcher = Batcher(runtime, max_delay_s=0.0, max_queue=64, metrics=Metrics())
    x = np.zeros((1, 1, 28, 28), np.float32)

    async def go():
        return await asyncio.gather(*(_request(batcher, x) for _ in range(3)))

    assert [r.batch_size for r in _run(batcher, go())] == [1, 1, 1]


def test_queue_bound_gives_overloaded(runtime):
    batcher = Batcher(runtime, max_delay_s=0.0, max_queue=2, metrics=Metrics())
    with pytest.raises(Overloaded):
        _run(batcher, _request(batcher, np.zeros((3, 1, 28, 28), np.float32)))


def test_queue_full_is_503_with_retry_after(model_repo):
    with make_client(model_repo, max_queue=1) as c:
        r = c.post("/v1/models/mlp/predict", json={"images": [GOOD["images"]] * 2})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert c.post("/v1/models/mlp/predict", json=GOOD).status_code == 200
