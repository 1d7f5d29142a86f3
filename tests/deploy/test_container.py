"""Container and cluster deployment: hadolint, docker-compose config, and deploy/validate.py's static checks.

No Docker engine is needed. When a tool (hadolint, docker-compose, make) or an artifact the lead ships
(Makefile, model_repository/) is missing, the test skips locally but fails under CI=true.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PROFILES = ["", "cpu", "monitoring", "scale", "triton"]

_spec = importlib.util.spec_from_file_location("deploy_validate", ROOT / "deploy" / "validate.py")
validate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate)


def _missing(what: str) -> None:
    """Skip locally, fail in CI, when a tool or artifact is absent."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} not available here")


def _tool(name: str) -> str:
    venv_bin = Path(sys.executable).parent / name
    path = shutil.which(name) or (str(venv_bin) if venv_bin.exists() else None)
    if path is None:
        _missing(name)
    return path


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_hadolint_has_no_findings():
    out = _run([_tool("hadolint"), "--failure-threshold", "style", "Dockerfile"])
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p or "default")
def test_compose_config_is_valid(profile):
    argv = [_tool("docker-compose"), "-f", "docker-compose.yml"] + (["--profile", profile] if profile else [])
    out = _run(argv + ["config", "-q"])
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("check", [c for c in validate.CHECKS if c is not validate.check_makefile_matches_image],
                         ids=lambda c: c.__name__)
def test_static_check(check):
    assert check() == []


def test_image_runs_what_make_serve_runs():
    """The image's ENTRYPOINT+CMD and the Makefile's serve recipe both run `kanserve serve --model-repository`,
    on the same package (`.`, no extras)."""
    if not (ROOT / "Makefile").exists():
        _missing("Makefile")
    if shutil.which("make") is None:
        _missing("make")
    assert validate.check_makefile_matches_image() == []


def test_image_command_is_kanserve_serve():
    for target in ("cpu", "gpu"):
        assert validate.image_command(target) == [
            "kanserve", "serve", "--host", "0.0.0.0", "--port", "8000", "--model-repository", "/models"]


def test_shipped_model_repository_is_triton_compatible():
    if not list((ROOT / "model_repository").glob("*/config.pbtxt")):
        _missing("model_repository/ (exported models)")
    assert validate.check_model_repository() == []


# ---- the checks themselves catch what they are for (synthetic inputs) ----
CONFIG = """name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 256
input [ {{ name: "images" data_type: TYPE_FP32 dims: [ {dims} ] }} ]
output [ {{ name: "logits" data_type: TYPE_FP32 dims: [ 10 ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: 500 }}
"""


def _model(repo: Path, name: str, dims: str = "1, 28, 28", config_name: str | None = None) -> Path:
    (repo / name / "1").mkdir(parents=True)
    (repo / name / "1" / "model.onnx").write_bytes(b"")
    path = repo / name / "config.pbtxt"
    path.write_text(CONFIG.format(name=config_name or name, dims=dims))
    return path


def test_config_pbtxt_check(tmp_path):
    pytest.importorskip("tritonclient")
    _model(tmp_path, "mlp")
    assert validate.check_model_repository(tmp_path) == []
    assert validate.check_config_pbtxt(_model(tmp_path, "bad", dims="784"))
    assert validate.check_config_pbtxt(_model(tmp_path, "renamed", config_name="other"))
    typo = _model(tmp_path, "typo")
    typo.write_text(typo.read_text().replace("max_batch_size", "max_batch"))
    assert "not a Triton ModelConfig" in validate.check_config_pbtxt(typo)[0]


def test_makefile_check_on_a_sample_makefile(tmp_path):
    if shutil.which("make") is None:
        _missing("make")
    (tmp_path / "Makefile").write_text(
        "VENV ?= .venv\n\nserve:\n\tpython3 -m venv $(VENV)\n\t$(VENV)/bin/pip install .\n"
        "\t$(VENV)/bin/kanserve serve --host 127.0.0.1 --port 8000 --model-repository model_repository\n")
    assert validate.check_makefile_matches_image(tmp_path) == []
    (tmp_path / "Makefile").write_text("serve:\n\tpip install '.[train]'\n\tuvicorn service.app:app\n")
    assert len(validate.check_makefile_matches_image(tmp_path)) == 2


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """A copy of the deployment files that validate.py reads, for mutation tests."""
    for rel in ("Dockerfile", ".dockerignore", "docker-compose.yml", "pyproject.toml", "deploy"):
        src = ROOT / rel
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / rel)
    monkeypatch.setattr(validate, "ROOT", tmp_path)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_checks_catch_drift(repo_copy):
    _edit(repo_copy / "deploy" / "requirements-gpu.txt", "onnxruntime-gpu[cuda,cudnn]==", "onnxruntime==")
    assert any("onnxruntime-gpu" in e for e in validate.check_requirements())
    _edit(repo_copy / "docker-compose.yml", "stop_grace_period: 30s", "stop_grace_period: 5s")
    assert any("stop_grace_period" in e for e in validate.check_compose())
    _edit(repo_copy / "Dockerfile", 'ENTRYPOINT ["kanserve"]', 'ENTRYPOINT ["uvicorn"]')
    assert any("ENTRYPOINT+CMD" in e for e in validate.check_dockerfile())
    _edit(repo_copy / "deploy" / "kubernetes" / "service.yaml", "  selector:\n    app.kubernetes.io/name: kanserve",
          "  selector:\n    app: other")
    assert any("selector" in e for e in validate.check_kubernetes())
    _edit(repo_copy / "deploy" / "kserve" / "inferenceservice.yaml", "protocolVersion: v2", "protocolVersion: v1")
    assert any("protocolVersion" in e for e in validate.check_kserve())
    _edit(repo_copy / ".dockerignore", "!model_repository/\n", "")
    assert any("model_repository" in e for e in validate.check_dockerignore())
