"""The committed model_repository: every artifact verifies (sha256, standard ops, loads in bare onnxruntime)
and its recorded test accuracy is what onnxruntime measures on all 10,000 canonical MNIST test images."""

import onnx
import pytest

from export.checks import accuracy, make_session
from export.repository import verify_artifact
from tests.export.conftest import ABSENT, ENTRIES, REPOSITORY

MIN_ACCURACY = 0.995


def test_repository_present():
    if not ENTRIES:
        pytest.skip(f"no shipped models yet: {REPOSITORY / 'index.json'} is absent or empty")
    assert {e["name"] for e in ENTRIES} >= {"mlp", "fasterkan"}


@pytest.mark.parametrize("entry", ENTRIES or [ABSENT], ids=[f"{e['name']}/{e['version']}" for e in ENTRIES] or None)
def test_shipped_artifact(entry, mnist_test):
    path = REPOSITORY / entry["path"]
    meta = verify_artifact(path)  # sha256 vs metadata.json and index.json, default domain, loads
    assert meta["sha256"] == entry["sha256"] and meta["n_test"] == 10000
    measured = accuracy(make_session(str(path)), *mnist_test)
    assert meta["test_accuracy"] >= MIN_ACCURACY
    assert abs(meta["test_accuracy"] - measured) <= 1e-4, (meta["test_accuracy"], measured)


INT8 = [e for e in ENTRIES if e["version"] == "2"]


@pytest.mark.parametrize("entry", INT8 or [ABSENT], ids=[e["name"] for e in INT8] or None)
def test_int8_version_records_its_fp32_source_and_calibration(entry):
    """Version 2 is the int8 model of the shipped version 1, within 0.2 points of it, calibrated on training images."""
    fp32 = {e["name"]: e for e in ENTRIES if e["version"] == "1"}[entry["name"]]
    meta = verify_artifact(REPOSITORY / entry["path"])
    fp32_meta = verify_artifact(REPOSITORY / fp32["path"])
    assert (meta["precision"], fp32_meta["precision"]) == ("int8", "fp32")
    assert meta["fp32_sha256"] == fp32["sha256"] and meta["fp32_test_accuracy"] == fp32_meta["test_accuracy"]
    assert meta["test_accuracy"] >= fp32_meta["test_accuracy"] - 0.002
    assert meta["calibration"]["split"] == "train" and meta["calibration"]["images"] == 512
    ops = {n.op_type for n in onnx.load(str(REPOSITORY / entry["path"])).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
