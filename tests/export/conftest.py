"""Shared export fixtures: real MNIST test images and one ONNX export per model per session."""
from pathlib import Path

import numpy as np
import pytest
import torch

from export.pipeline import mnist_test_set, to_onnx
from models.registry import create_model

REPO_ROOT = Path(__file__).resolve().parents[2]
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
