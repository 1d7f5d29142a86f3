"""`kanserve export --precision int8` on a small checkpoint: calibration on training images only, QDQ in the
default domain with 7-bit weights, reproducible bytes, the fp32 source recorded, and the accuracy gate (exit 2)."""
import json
import re

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from export.checks import non_standard
from export.quantize import CALIBRATION_IMAGES, AccuracyRefused, calibration_set, check_accuracy_drop
from export.repository import verify_artifact
from kanserve.cli import main
from kanserve.repository import file_sha256, load_index
from tests.export.conftest import run_export

INT8_KEYS = {"calibration", "quantization", "fp32_sha256", "fp32_test_accuracy", "fp32_argmax_agreement"}


@pytest.fixture(scope="module")
def int8_repository(checkpoint, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8")
    run_export(checkpoint, out, data_dir, "--evaluate")
    run_export(checkpoint, out, data_dir, "--precision", "int8")
    return out


def test_int8_is_version_2_beside_fp32(int8_repository):
    assert [(e["name"], e["version"]) for e in load_index(int8_repository)] == [
        ("flat_fasterkan", "1"), ("flat_fasterkan", "2")]
    meta = verify_artifact(int8_repository / "flat_fasterkan/2/model.onnx")  # sha256, default domain, full check, loads
    assert meta["precision"] == "int8" and set(meta) >= INT8_KEYS
    assert meta["fp32_sha256"] == file_sha256(int8_repository / "flat_fasterkan/1/model.onnx")
    fp32 = json.loads((int8_repository / "flat_fasterkan/1/metadata.json").read_text())
    assert meta["fp32_test_accuracy"] == fp32["test_accuracy"] and meta["n_test"] == 10000
    assert meta["test_accuracy"] >= fp32["test_accuracy"] - 0.002
    assert meta["calibration"]["split"] == "train" and meta["calibration"]["images"] == CALIBRATION_IMAGES


def test_qdq_graph_with_7_bit_weights(int8_repository):
    model = onnx.load(str(int8_repository / "flat_fasterkan/2/model.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and non_standard(model) == []
    weights = [numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    # reduce_range: |w| <= 64, so a pair of u8×s8 products (2 · 255 · 64 = 32,640) fits vpmaddubsw's int16
    assert weights and all(np.abs(w.astype(np.int32)).max() <= 64 for w in weights)
    assert any(np.abs(w.astype(np.int32)).max() == 64 for w in weights)
    assert "Tanh" in ops and "Gemm" in ops  # the basis stays float, its mixing matmul is quantized


def test_int8_bytes_are_reproducible(checkpoint, int8_repository, data_dir, tmp_path):
    run_export(checkpoint, tmp_path, data_dir, "--precision", "int8")
    path = "flat_fasterkan/2/model.onnx"
    assert (tmp_path / path).read_bytes() == (int8_repository / path).read_bytes()


def test_calibration_uses_training_images_only(data_dir, monkeypatch):
    import models.data

    splits, load = [], models.data.load_mnist
    monkeypatch.setattr(models.data, "load_mnist", lambda split, d=None: splits.append(split) or load(split, d))
    images, info = calibration_set(data_dir)
    assert splits == ["train"] and info["split"] == "train"
    assert images.shape == (CALIBRATION_IMAGES, 1, 28, 28) and images.dtype == np.float32
    train, _ = load("train", data_dir)
    index = np.sort(np.random.default_rng(0).choice(len(train), CALIBRATION_IMAGES, replace=False))
    np.testing.assert_array_equal(images[:, 0], train[index] / np.float32(255.0))


def test_accuracy_gate_boundaries():
    check_accuracy_drop(0.9940, 0.9960)  # exactly 0.2 points below: accepted
    with pytest.raises(AccuracyRefused, match=re.escape("0.21 points below fp32's 99.60 %")):
        check_accuracy_drop(0.9939, 0.9960)


def test_refused_export_exits_2_and_writes_nothing(checkpoint, data_dir, tmp_path, monkeypatch, capsys):
    from export import pipeline

    real = pipeline.check_accuracy_drop
    monkeypatch.setattr(pipeline, "check_accuracy_drop", lambda int8, fp32: real(int8, fp32, max_drop=-0.5))
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "repo"), "--data-dir",
              str(data_dir), "--precision", "int8"])
    assert exit_info.value.code == 2
    assert "refused: int8 test accuracy" in capsys.readouterr().err
    assert not (tmp_path / "repo").exists()
