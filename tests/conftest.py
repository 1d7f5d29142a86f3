"""Shared fixtures: where the real MNIST files are, and the repository root."""
import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
BESIDE_CHECKOUT = REPO_ROOT.parent / "shared" / "data" / "mnist"  # where CI keeps its copy


def mnist_dir() -> Path:
    """$KANSERVE_DATA_DIR, else the copy beside the checkout (CI), else the user cache the CLI downloads into."""
    from models.data import cache_dir, has_mnist

    if named := os.environ.get("KANSERVE_DATA_DIR"):
        return Path(named)
    return BESIDE_CHECKOUT if has_mnist(BESIDE_CHECKOUT) or not has_mnist(cache_dir()) else cache_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The one MNIST folder of the test suite (real files; the tests never download)."""
    from models.data import has_mnist

    path = mnist_dir()
    if not has_mnist(path):
        pytest.fail(f"real MNIST not found in {path}: set KANSERVE_DATA_DIR, or run `kanserve download`")
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
