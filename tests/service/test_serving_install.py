"""The serving install has no torch: the serve path must not import it, and the base dependencies must not pull it."""
import subprocess
import sys
import tomllib

from tests.conftest import REPO_ROOT


def test_serve_path_imports_no_torch_or_onnx():
    code = ("import sys, kanserve.cli, service.app, service.commands, bench.probe, bench.commands; "
            "kanserve.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxscript', 'models.train') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_base_dependencies_exclude_training_stack():
    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(";")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower() for d in deps}
    assert not names & {"torch", "onnx", "onnxscript", "onnxruntime-gpu"}
    assert "onnxruntime" in names
