"""`kanserve export` end to end on a small checkpoint: layout, metadata, reproducible bytes, verification."""
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from export.checks import accuracy, make_session
from export.pipeline import ExportOptions, export_checkpoint
from export.repository import verify_artifact
from kanserve.cli import main
from kanserve.repository import file_sha256, load_index
from models.registry import create_model
from models.train import load_checkpoint

METADATA_KEYS = {"name", "version", "architecture", "parameters", "test_accuracy", "n_test", "data_sha256",
                 "git_commit", "precision", "opset", "ir_version", "sha256", "max_batch_size", "inputs", "outputs",
                 "tools", "input_format", "labels", "value_range", "normalisation"}


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


def _export(checkpoint: Path, out: Path, data_dir: Path, *extra: str) -> None:
    """The model alone: functions.json and explain.onnx are tests/export/test_functions.py's (and cost ~20 s here)."""
    main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--data-dir", str(data_dir),
          "--no-functions", *extra])


@pytest.fixture(scope="module")
def repository(checkpoint, data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("repo")
    _export(checkpoint, out, data_dir, "--name", "kan", "--version", "3")
    return out


def test_layout_and_index(repository):
    files = sorted(str(p.relative_to(repository)) for p in repository.rglob("*") if p.is_file())
    assert files == ["index.json", "kan/3/metadata.json", "kan/3/model.onnx", "kan/config.pbtxt", "kan/labels.txt"]
    sha = file_sha256(repository / "kan/3/model.onnx")
    assert load_index(repository) == [{"name": "kan", "version": "3", "path": "kan/3/model.onnx", "sha256": sha}]
    text = (repository / "index.json").read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_config_pbtxt(repository):
    config = (repository / "kan/config.pbtxt").read_text()
    for line in ('name: "kan"', 'platform: "onnxruntime_onnx"', "max_batch_size: 256", 'name: "images"',
                 "data_type: TYPE_FP32", "dims: [ 1, 28, 28 ]", 'name: "logits"', "dims: [ 10 ]",
                 "dynamic_batching {", "max_queue_delay_microseconds: 500"):
        assert line in config


def test_metadata_json_and_props_agree(repository):
    meta = verify_artifact(repository / "kan/3/model.onnx")
    assert set(meta) == METADATA_KEYS
    assert (meta["name"], meta["version"], meta["architecture"]) == ("kan", "3", "flat_fasterkan")
    assert meta["parameters"] == sum(p.numel() for p in create_model("flat_fasterkan").parameters())
    assert (meta["test_accuracy"], meta["n_test"], meta["data_sha256"]) == (0.9876, 10000, "d" * 64)
    assert (meta["precision"], meta["opset"], meta["ir_version"]) == ("fp32", 18, 10)
    assert set(meta["tools"]) >= {"torch", "onnx", "onnxruntime"} and meta["git_commit"]
    props = {p.key: p.value for p in onnx.load(str(repository / "kan/3/model.onnx")).metadata_props}
    expected = {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) if isinstance(v, (list, dict))
                else str(v) for k, v in meta.items() if k != "sha256"}
    assert props == expected


def test_same_checkpoint_gives_identical_bytes(checkpoint, repository, data_dir, tmp_path):
    _export(checkpoint, tmp_path, data_dir, "--name", "kan", "--version", "3")
    for path in repository.rglob("*"):
        if path.is_file():
            assert (tmp_path / path.relative_to(repository)).read_bytes() == path.read_bytes(), path


def test_verify_artifact_detects_tampering(repository, tmp_path):
    repo = shutil.copytree(repository, tmp_path / "repo")
    model = repo / "kan/3/model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(RuntimeError, match="sha256"):
        verify_artifact(model)


def test_evaluate_records_onnxruntime_accuracy_and_index_grows(checkpoint, data_dir, mnist_test, tmp_path):
    _export(checkpoint, tmp_path, data_dir)
    _export(checkpoint, tmp_path, data_dir, "--name", "again", "--evaluate")
    assert [(e["name"], e["version"]) for e in load_index(tmp_path)] == [("again", "1"),
                                                                                   ("flat_fasterkan", "1")]
    meta = verify_artifact(tmp_path / "again/1/model.onnx")
    measured = accuracy(make_session(str(tmp_path / "again/1/model.onnx")), *mnist_test)
    assert meta["n_test"] == 10000 and meta["test_accuracy"] == pytest.approx(measured, abs=1e-12)


def test_failed_check_writes_nothing(checkpoint, data_dir, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("parity failed (simulated)")

    monkeypatch.setattr("export.pipeline.check_parity", fail)
    with pytest.raises(RuntimeError, match="simulated"):
        export_checkpoint(checkpoint, tmp_path / "repo", ExportOptions(data_dir=str(data_dir)))
    assert not (tmp_path / "repo").exists()


def test_fp16_keeps_float32_io_and_argmax(checkpoint, data_dir, mnist_test, tmp_path):
    """fp16 is verified on GPU; here only: it loads on CPU, I/O stay float32, argmax agrees."""
    _export(checkpoint, tmp_path, data_dir, "--precision", "fp16")
    path = tmp_path / "flat_fasterkan/1/model.onnx"
    assert verify_artifact(path)["precision"] == "fp16"
    session = make_session(str(path))
    assert [i.type for i in session.get_inputs() + session.get_outputs()] == ["tensor(float)"] * 2
    images = mnist_test[0][:300]
    (half,) = session.run(None, {"images": images})
    ref, _ = load_checkpoint(checkpoint)
    with torch.no_grad():
        full = ref(torch.from_numpy(images)).numpy()
    assert np.mean(half.argmax(1) == full.argmax(1)) >= 0.99
