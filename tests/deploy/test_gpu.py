"""GPU by default where it can be: the probe decides before onnxruntime is asked, so a host without CUDA gets no
onnxruntime noise on stderr and one log line saying why; on a CUDA host (tests marked `cuda`) sessions run there."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from service import gpu
from service.runtime import requested_providers, session_options
from tests.conftest import REPO_ROOT
from tests.deploy import servers

HAS_CUDA_BUILD = gpu.CUDA_EP in ort.get_available_providers()
no_gpu = pytest.mark.skipif(gpu.status().usable, reason="a usable GPU is present: the no-GPU behaviour cannot show")


def _python(code: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (the probe is once per process), fd 1 and fd 2 captured apart."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120, check=True)


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


SESSIONS = """
    import glob
    import onnxruntime as ort
    from service.logs import configure_logging
    from service.runtime import requested_providers, session_options
    configure_logging("info")
    for path in sorted(glob.glob("model_repository/*/*/model.onnx")):
        session = ort.InferenceSession(path, session_options(1), providers=requested_providers("{provider}"))
        assert session.get_providers() == ["CPUExecutionProvider"], session.get_providers()
"""


@no_gpu
@pytest.mark.parametrize("provider", ["auto", "cuda", "tensorrt"])
def test_sessions_stay_quiet_and_one_line_says_why(provider):
    """Sessions made as the service makes them (its providers and options), one per shipped model."""
    out = _python(SESSIONS.format(provider=provider))
    assert out.stderr == ""
    lines = [r for r in _records(out.stdout) if r["logger"] == "kanserve.gpu"]
    assert len(lines) == 1, lines
    assert lines[0]["msg"] == "GPU unavailable, serving on CPU" and lines[0]["reason"] and lines[0]["fix"]
    assert lines[0]["level"] == ("info" if provider == "auto" else "warning")


@no_gpu
def test_cpu_request_does_not_probe_or_log():
    out = _python(SESSIONS.format(provider="cpu") + "    from service import gpu\n"
                  "    assert gpu.status.cache_info().currsize == 0\n")
    assert out.stderr == "" and not [r for r in _records(out.stdout) if r["logger"] == "kanserve.gpu"]


@pytest.mark.skipif(not HAS_CUDA_BUILD, reason="onnxruntime CPU build: it has no CUDA provider to be noisy about")
@no_gpu
def test_asking_onnxruntime_blindly_is_what_the_probe_avoids():
    """The control: the same session with CUDA requested without the probe prints onnxruntime's errors to fd 2."""
    out = _python("""
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        ort.InferenceSession("model_repository/mlp/1/model.onnx", opts,
                             providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    """)
    assert out.stderr.strip(), "onnxruntime no longer prints when CUDA cannot load: the probe may be unnecessary"


@no_gpu
def test_status_names_what_is_missing_and_the_fix():
    s = gpu.status()
    assert not s.usable and requested_providers("cuda") == ["CPUExecutionProvider"]
    if not HAS_CUDA_BUILD:
        assert "no CUDA provider" in s.detail and "onnxruntime-gpu" in s.fix
    elif "CUDA libraries not found" in s.detail:
        assert any(lib in s.detail for lib in gpu._cuda_libraries()) and "kanserve[cuda]" in s.fix
    else:
        assert "driver" in s.detail and "driver" in s.fix


def test_server_start_has_an_empty_stderr(tmp_path):
    """The real command: `kanserve serve` with the default provider (auto) writes JSON to stdout and nothing to fd 2."""
    port = servers.free_port()
    proc = servers.start(port, tmp_path)
    try:
        servers.wait_ready(f"http://127.0.0.1:{port}", proc)
    finally:
        assert servers.stop(proc) in servers.CLEAN_EXIT
    assert (tmp_path / f"{port}.err").read_text() == ""
    records = _records((tmp_path / f"{port}.out").read_text())
    assert len([r for r in records if r["logger"] == "kanserve.gpu"]) == 1


def _fake_gpu(monkeypatch, device="NVIDIA Test GPU", missing=(), tensorrt=False):
    """status() computed from a pretend driver and library set: the decision logic, not onnxruntime."""
    gpu.status.cache_clear()
    providers = [gpu.TENSORRT_EP, gpu.CUDA_EP, "CPUExecutionProvider"]
    monkeypatch.setattr(gpu.ort, "get_available_providers", lambda: providers)
    monkeypatch.setattr(gpu, "_device", lambda: (device, None) if device else (None, "no NVIDIA driver"))
    monkeypatch.setattr(gpu, "_missing_libraries", lambda: list(missing))
    monkeypatch.setattr(gpu, "_load", lambda name: tensorrt or None)


@pytest.fixture
def fresh_status():
    yield
    gpu.status.cache_clear()
    gpu._announce.cache_clear()


def test_providers_on_a_gpu_host_carry_their_options(monkeypatch, fresh_status):
    _fake_gpu(monkeypatch)
    (name, options), cpu = requested_providers("auto")
    assert name == gpu.CUDA_EP and cpu == "CPUExecutionProvider"
    assert options["cudnn_conv_algo_search"] == "HEURISTIC" and options["arena_extend_strategy"] == "kSameAsRequested"
    assert [p[0] for p in requested_providers("tensorrt")[:-1]] == [gpu.CUDA_EP]  # no TensorRT libraries
    _fake_gpu(monkeypatch, tensorrt=True)
    assert [p[0] for p in requested_providers("tensorrt")[:-1]] == [gpu.TENSORRT_EP, gpu.CUDA_EP]


def test_every_missing_piece_is_named(monkeypatch, fresh_status):
    _fake_gpu(monkeypatch, device=None, missing=["libcudnn.so.9"])
    s = gpu.status()
    assert not s.usable and "no NVIDIA driver" in s.detail and "libcudnn.so.9" in s.detail
    assert "kanserve[cuda]" in s.fix
    assert requested_providers("cuda") == ["CPUExecutionProvider"]


def test_the_options_are_valid_cuda_provider_options():
    """onnxruntime rejects unknown keys or values only when it creates the provider (on a GPU host); check them
    against the provider's documented names here so a typo cannot wait for the first GPU."""
    known = {"device_id", "cudnn_conv_algo_search", "arena_extend_strategy", "do_copy_in_default_stream",
             "gpu_mem_limit", "cudnn_conv_use_max_workspace", "enable_cuda_graph", "use_tf32"}
    assert set(gpu.CUDA_OPTIONS) <= known
    assert gpu.CUDA_OPTIONS["cudnn_conv_algo_search"] in ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")
    assert gpu.CUDA_OPTIONS["arena_extend_strategy"] in ("kNextPowerOfTwo", "kSameAsRequested")


# ---- on a CUDA host only (marked `cuda`; tests/deploy/conftest.py skips them with the probe's reason elsewhere) ----
def _session(path: Path, provider: str) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), session_options(1), providers=requested_providers(provider))


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["mlp", "fasterkan"])
def test_cuda_session_with_io_binding_matches_cpu(name):
    path = REPO_ROOT / "model_repository" / name / "1" / "model.onnx"
    on_gpu, on_cpu = _session(path, "cuda"), _session(path, "cpu")
    assert on_gpu.get_providers()[0] == gpu.CUDA_EP
    x = np.random.default_rng(0).random((256, 1, 28, 28), dtype=np.float32)
    got, want = gpu.run_bound(on_gpu, "images", "logits", x), on_cpu.run(None, {"images": x})[0]
    assert got.dtype == np.float32 and got.shape == (256, 10)
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=1e-3)
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.99


@pytest.mark.cuda
def test_fp16_export_served_on_cuda_when_its_version_is_asked_for(tmp_path, data_dir):
    """`kanserve export --precision fp16 --version 2` beside the fp32 version 1 (clients ask for it with
    /v2/models/NAME/versions/2): float32 in and out (Casts at the edges), fp16 inside, argmax as fp32's."""
    from export.pipeline import ExportOptions, export_checkpoint, mnist_test_set

    path = export_checkpoint(REPO_ROOT / "checkpoints" / "fasterkan.pt", tmp_path,
                             ExportOptions(version=2, precision="fp16", data_dir=str(data_dir)))
    assert json.loads((path.parent / "metadata.json").read_text())["precision"] == "fp16"
    fp16 = _session(path, "cuda")
    fp32 = _session(REPO_ROOT / "model_repository" / "fasterkan" / "1" / "model.onnx", "cuda")
    assert fp16.get_providers()[0] == gpu.CUDA_EP
    images = mnist_test_set(data_dir)[0][:256]
    got = gpu.run_bound(fp16, "images", "logits", images)
    want = gpu.run_bound(fp32, "images", "logits", images)
    assert got.dtype == np.float32 and (got.argmax(1) == want.argmax(1)).mean() >= 0.99


def test_gpu_bench_section_renders_its_json():
    """bench/gpu.py's BENCHMARKS.md section from a real --allow-cpu smoke run (no GPU numbers in it)."""
    from bench.gpu import section

    g = json.loads((Path(__file__).parent / "fixtures" / "gpu_smoke.json").read_text())
    md = "\n".join(section(g))
    assert md.startswith("## 5. GPU") and "smoke test on CPU" in md
    assert "| fasterkan | fp32 | CPUExecutionProvider | session.run |" in md
    http = g["http"]["cpu"]["fasterkan"]["p50_ms"]
    assert f"| fasterkan | cpu | {http:.3f} |" in md
