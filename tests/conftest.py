"""Shared fixtures: where the real MNIST files are, and the repository root."""
import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def mnist_dir() -> Path:
    """$KANSERVE_DATA_DIR, else the canonical copy in ../shared/data/mnist beside the checkout."""
    return Path(os.environ.get("KANSERVE_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = mnist_dir()
    if not (path / "t10k-images-idx3-ubyte.gz").exists() and not (path / "t10k-images-idx3-ubyte").exists():
        pytest.fail(f"real MNIST not found in {path}: set KANSERVE_DATA_DIR")
    return path


# CI runs the property-based tests on a fixed seed (the same examples every run, so a red CI is reproducible);
# locally they explore new examples each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(config, items):
    """`cuda`-marked tests run only where the GPU probe says CUDA works, and skip with its reason elsewhere."""
    marked = [item for item in items if item.get_closest_marker("cuda")]
    if not marked:
        return
    from service.gpu import status

    if not (s := status()).usable:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=f"needs CUDA: {s.detail}"))


def expected_provider() -> str:
    """The execution provider the service lands on here: CUDA on a usable GPU host, else the CPU."""
    from service.gpu import status

    return "CUDAExecutionProvider" if status().usable else "CPUExecutionProvider"
