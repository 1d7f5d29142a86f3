"""Shared fixtures: where the real MNIST files are, and the repository root."""
import os
from pathlib import Path

import pytest

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
