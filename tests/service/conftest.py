"""Shared fixtures for the service tests: one model repository per session (the shipped one, else a throwaway one)."""
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx
import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "model_repository"
# Tiny stand-ins keep the test-time export and inference fast; names match the shipped models.
SMALL_ARCHS = {"mlp": ("flat_mlp", {"hidden": 64}), "fasterkan": ("flat_fasterkan", {})}
CONFIG_PBTXT = """name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 256
input [ {{ name: "images" data_type: TYPE_FP32 dims: [ 1, 28, 28 ] }} ]
output [ {{ name: "logits" data_type: TYPE_FP32 dims: [ 10 ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: 500 }}
"""


def _export_onnx(arch: str, args: dict, path: Path) -> int:
    """Export one registry model to ONNX (opset 18, IR 10, dynamic batch); returns its parameter count."""
    import onnx
    import torch

    from models.registry import create_model

    torch.manual_seed(0)
    model = create_model(arch, **args).eval()
    x = torch.rand(2, 1, 28, 28)
    batch = torch.export.Dim("batch", min=1, max=1024)
    prog = torch.onnx.export(model, (x,), dynamo=True, opset_version=18, input_names=["images"],
                             output_names=["logits"], dynamic_shapes=({0: batch},), verbose=False)
    proto = prog.model_proto
    proto.ir_version = 10  # onnxruntime 1.31 accepts at most IR 13; onnx 1.23 writes 14
    onnx.save(proto, str(path))
    return sum(p.numel() for p in model.parameters())


def _metadata(name: str, arch: str, params: int, sha: str) -> dict:
    return {"name": name, "version": "1", "architecture": arch, "parameters": params, "test_accuracy": None,
            "n_test": None, "data_sha256": None, "git_commit": None, "precision": "fp32", "opset": 18,
            "ir_version": 10, "sha256": sha, "max_batch_size": 256,
            "inputs": [{"name": "images", "datatype": "FP32", "shape": [-1, 1, 28, 28]}],
            "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
            "tools": {"torch": None, "onnx": None, "onnxruntime": None}}


def build_repository(root: Path, archs: dict[str, tuple[str, dict]] = SMALL_ARCHS) -> Path:
    """Write a contract-format model repository (index.json, config.pbtxt, NAME/1/{model.onnx,metadata.json})."""
    entries = []
    for name, (arch, args) in sorted(archs.items()):
        vdir = root / name / "1"
        vdir.mkdir(parents=True, exist_ok=True)
        params = _export_onnx(arch, args, vdir / "model.onnx")
        sha = hashlib.sha256((vdir / "model.onnx").read_bytes()).hexdigest()
        (vdir / "metadata.json").write_text(json.dumps(_metadata(name, arch, params, sha), indent=2, sort_keys=True))
        (root / name / "config.pbtxt").write_text(CONFIG_PBTXT.format(name=name))
        entries.append({"name": name, "version": "1", "path": f"{name}/1/model.onnx", "sha256": sha})
    (root / "index.json").write_text(json.dumps({"models": entries}, indent=2, sort_keys=True))
    return root


@pytest.fixture(scope="session")
def model_repo(tmp_path_factory) -> Path:
    """A pristine repository for the whole session; tests that damage it copy it first (`repo_copy`)."""
    root = tmp_path_factory.mktemp("model_repository")
    if (SHIPPED / "index.json").exists():
        shutil.copytree(SHIPPED, root, dirs_exist_ok=True)
        return root
    return build_repository(root)


@pytest.fixture
def repo_copy(model_repo, tmp_path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(model_repo, dest)
    return dest


def png_digit(size: int = 56) -> bytes:
    """A white '1'-like bar on black as PNG bytes (a decodable, non-blank upload)."""
    import io

    import numpy as np
    from PIL import Image

    a = np.zeros((size, size), np.uint8)
    a[size // 5: -size // 5, size // 2 - 3: size // 2 + 3] = 255
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width×height, followed by a 16-byte IDAT: nowhere near enough pixel data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", bytes(16)) + chunk(b"IEND", b"")


def make_client(repo: Path, **settings):
    """A TestClient (lifespan run on enter) for an app on `repo` with the given Settings overrides."""
    import warnings

    with warnings.catch_warnings():  # starlette's httpx deprecation notice is about its own import, not us
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    return TestClient(create_app(Settings(model_repository=repo, **settings)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(model_repo):
    with make_client(model_repo) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(repo, tmp_path, **env) -> tuple[subprocess.Popen, int, object]:
    port = free_port()
    log = open(tmp_path / f"server-{port}.log", "w+")  # noqa: SIM115 - closed by the caller
    full_env = {**os.environ, "KANSERVE_SHUTDOWN_TIMEOUT_S": "30", **env}
    cmd = [sys.executable, "-m", "kanserve.cli", "serve", "--port", str(port), "--model-repository", str(repo)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    return proc, port, log


def wait_ready(proc, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited during startup"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server not ready")


if __name__ == "__main__":  # dev helper: python tests/service/conftest.py DEST [--full]
    full = {"mlp": ("mlp", {}), "fasterkan": ("fasterkan", {})}
    print(build_repository(Path(sys.argv[1]), full if "--full" in sys.argv else SMALL_ARCHS))
