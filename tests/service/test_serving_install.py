"""The serving install has no torch: the serve path must not import it, and the base dependencies must not pull it."""
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT


def test_serve_path_imports_no_torch_or_onnx():
    code = ("import sys, kanserve.cli, service.app, service.commands, bench.probe, bench.commands; "
            "kanserve.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxscript', 'models.train') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def base_dependencies() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(d) for d in project["dependencies"]]


PLATFORMS = {("linux", "x86_64"): "onnxruntime-gpu", ("linux", "aarch64"): "onnxruntime-gpu",
             ("darwin", "arm64"): "onnxruntime", ("win32", "AMD64"): "onnxruntime"}


def test_base_dependencies_exclude_training_stack():
    deps = base_dependencies()
    assert not {d.name.lower() for d in deps} & {"torch", "onnx", "onnxscript"}


@pytest.mark.parametrize("platform,machine", PLATFORMS)
def test_onnxruntime_is_the_gpu_build_exactly_where_pypi_has_one(platform, machine):
    deps = base_dependencies()
    env = {"sys_platform": platform, "platform_machine": machine}
    chosen = [d.name for d in deps if d.name.startswith("onnxruntime") and (d.marker is None or d.marker.evaluate(env))]
    assert chosen == [PLATFORMS[platform, machine]]
