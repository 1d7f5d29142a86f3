"""Shared export fixtures: real MNIST test images and one ONNX export per model per session."""
from pathlib import Path

import numpy as np
import pytest
import torch

from export.pipeline import mnist_test_set, to_onnx
from kanserve.repository import load_index
from models.registry import create_model

REPO_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = REPO_ROOT / "model_repository"
ENTRIES = load_index(REPOSITORY) if (REPOSITORY / "index.json").exists() else []  # the shipped artifacts
ABSENT = pytest.param(None, marks=pytest.mark.skip(reason=f"no shipped models in {REPOSITORY} yet"))
# Every registered model plus the Cox–de Boor "before" of the B-spline layer.
CASES = {
    "mlp": ("mlp", {}), "fasterkan": ("fasterkan", {}), "cnn_fastkan": ("cnn_fastkan", {}),
    "cnn_bsplinekan": ("cnn_bsplinekan", {}), "flat_fasterkan": ("flat_fasterkan", {}),
    "flat_fastkan": ("flat_fastkan", {}), "flat_bsplinekan": ("flat_bsplinekan", {}),
    "flat_bsplinekan_recursion": ("flat_bsplinekan", {"closed_form": False}), "flat_mlp": ("flat_mlp", {}),
}


@pytest.fixture(scope="session")
def mnist_test(data_dir) -> tuple[np.ndarray, np.ndarray]:
    """float32 [10000, 1, 28, 28] in [0, 1] and int64 labels."""
    return mnist_test_set(data_dir)


def build(case: str) -> torch.nn.Module:
    name, args = CASES[case]
    torch.manual_seed(0)  # untrained weights, fixed seed: parity does not need training
    return create_model(name, **args).eval()


@pytest.fixture(scope="session")
def exported() -> dict:
    """case -> (torch model, ModelProto), filled lazily so each model is exported once per session."""
    return {}


@pytest.fixture
def export_case(exported):
    def get(case: str):
        if case not in exported:
            model = build(case)
            exported[case] = (model, to_onnx(model))
        return exported[case]

    return get


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A self-describing checkpoint of the (cheap) flat FasterKAN net, untrained, fixed seed."""
    torch.manual_seed(0)
    model = create_model("flat_fasterkan")
    path = tmp_path_factory.mktemp("ckpt") / "flat.pt"
    metrics = {"test_accuracy": 0.9876, "n_test": 10000, "data_sha256": "d" * 64}
    torch.save({"model_name": "flat_fasterkan", "model_args": {}, "state_dict": model.state_dict(),
                "train_config": {}, "metrics": metrics, "epoch": 0}, path)
    return path


def run_export(checkpoint: Path, out: Path, data_dir: Path, *extra: str) -> None:
    """`kanserve export` as a user runs it, without the KAN function files (tests/export/test_functions.py's; they
    cost ~20 s an export here)."""
    from kanserve.cli import main

    main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--data-dir", str(data_dir),
          "--no-functions", *extra])
