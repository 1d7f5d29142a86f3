"""Checkpoint -> folded torch model -> ONNX -> checks -> model repository: `export_checkpoint` and its steps."""
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from export.checks import accuracy, check_standard, compare_logits, make_session, run_batched
from export.folding import fold_for_export
from export.functions import CHECK_IMAGES, kan_files
from export.graph import IR_VERSION, OPSET, torch_to_onnx
from export.metadata import build_metadata, config_pbtxt, set_metadata_props
from export.precision import FP16_ATOL, FP16_MIN_AGREEMENT, HalfPrecision
from export.quantize import calibration_set, check_accuracy_drop, quantization_settings, quantize_int8
from kanserve.repository import write_artifact

PARITY_IMAGES = 1000
# Each precision is its own model version; unversioned requests get the latest fp32 one.
VERSIONS = {"fp32": 1, "int8": 2, "fp16": 3}


@dataclass
class ExportOptions:
    name: str | None = None
    version: int | None = None  # None: VERSIONS[precision]
    precision: str = "fp32"
    evaluate: bool = False
    data_dir: str | None = None
    threads: int = 2
    functions: bool = True  # FasterKAN heads: functions.json + explain.onnx beside an fp32 model (export/functions.py)
    progress: bool = False  # a progress bar while --evaluate measures the test accuracy


def mnist_test_set(data_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 canonical MNIST test images as float32 [N, 1, 28, 28] in [0, 1], and int64 labels."""
    from models.data import load_mnist

    images, labels = load_mnist("test", data_dir)
    return (images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64)


def to_onnx(model: torch.nn.Module, precision: str = "fp32") -> onnx.ModelProto:
    """Fold, (optionally) halve and export `model`; the result has passed check_standard."""
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be fp32 or fp16, not {precision!r}")
    folded = fold_for_export(model)
    exportable = HalfPrecision(folded) if precision == "fp16" else folded
    proto = torch_to_onnx(exportable, torch.rand(2, 1, 28, 28))
    check_standard(proto)
    return proto


@torch.no_grad()
def torch_logits(model: torch.nn.Module, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    model.eval()
    parts = [model(torch.from_numpy(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
    return torch.cat(parts).numpy()


def check_parity(model: torch.nn.Module, model_bytes: bytes, images: np.ndarray, precision: str = "fp32",
                 threads: int = 2) -> dict:
    """onnxruntime vs the original (unfolded, fp32) torch model; raises RuntimeError on failure."""
    got = run_batched(make_session(model_bytes, threads), images)
    ref = torch_logits(model, images)
    if precision == "fp32":
        return compare_logits(ref, got)
    result = {"max_abs_diff": float(np.max(np.abs(ref - got))), "argmax_agreement": float(np.mean(
        ref.argmax(1) == got.argmax(1))), "n": len(images)}
    if result["max_abs_diff"] > FP16_ATOL or result["argmax_agreement"] < FP16_MIN_AGREEMENT:
        raise RuntimeError(f"fp16 parity failed: {result}")
    return result


def export_checkpoint(checkpoint: str | Path, out: str | Path, options: ExportOptions | None = None) -> Path:
    """Export one checkpoint into the repository `out`; nothing is written unless every check passed.

    Raises AccuracyRefused (int8 more than 0.2 points below fp32) or RuntimeError (a failed check)."""
    from models.train import load_checkpoint

    opts = options or ExportOptions()
    model, ckpt = load_checkpoint(checkpoint)
    images, labels = mnist_test_set(opts.data_dir)
    name = opts.name or ckpt["model_name"]
    version = opts.version or VERSIONS[opts.precision]
    if opts.precision == "int8":
        proto, metadata = int8_artifact(model, ckpt, opts, name, version, (images, labels))
    else:
        proto, metadata = float_artifact(model, ckpt, opts, name, version, (images, labels), opts.precision,
                                         opts.evaluate)
    model_bytes = proto.SerializeToString(deterministic=True)
    files = kan_files(model, model_bytes, opts.data_dir, ckpt.get("train_config"), images[:CHECK_IMAGES],
                      opts.threads) if opts.functions and opts.precision == "fp32" else {}
    return write_artifact(out, name, str(version), model_bytes, metadata, config_pbtxt(metadata), metadata["labels"],
                          files)


def float_artifact(model: torch.nn.Module, ckpt: dict, opts: ExportOptions, name: str, version: int,
                   test_set: tuple[np.ndarray, np.ndarray], precision: str,
                   evaluate: bool) -> tuple[onnx.ModelProto, dict]:
    """The fp32 (or fp16) artifact: exported, parity-checked against torch, metadata set, checked."""
    images, labels = test_set
    proto = to_onnx(model, precision)
    check_parity(model, proto.SerializeToString(), images[:PARITY_IMAGES], precision, opts.threads)
    metrics = dict(ckpt.get("metrics") or {})
    if evaluate:
        session = make_session(proto.SerializeToString(), opts.threads)
        measured = accuracy(session, images, labels, progress="evaluate (onnxruntime)" if opts.progress else None)
        metrics.update(test_accuracy=measured, n_test=len(labels))
    metadata = _metadata(model, ckpt, opts, name, version, precision, metrics)
    return _finish(proto, metadata), metadata


def int8_artifact(model: torch.nn.Module, ckpt: dict, opts: ExportOptions, name: str, version: int,
                  test_set: tuple[np.ndarray, np.ndarray]) -> tuple[onnx.ModelProto, dict]:
    """Quantize the fp32 artifact (as `--evaluate` writes it as version 1), then gate on test accuracy."""
    images, labels = test_set
    fp32, fp32_meta = float_artifact(model, ckpt, opts, name, VERSIONS["fp32"], test_set, "fp32", True)
    fp32_bytes = fp32.SerializeToString(deterministic=True)
    calibration, calibration_info = calibration_set(opts.data_dir)
    proto = quantize_int8(fp32_bytes, calibration)
    logits = run_batched(make_session(proto.SerializeToString(), opts.threads), images)
    int8_acc = float(np.mean(logits.argmax(1) == labels))
    check_accuracy_drop(int8_acc, fp32_meta["test_accuracy"])
    fp32_argmax = run_batched(make_session(fp32_bytes, opts.threads), images).argmax(1)
    metrics = {"test_accuracy": int8_acc, "n_test": len(labels), "data_sha256": fp32_meta["data_sha256"]}
    metadata = _metadata(model, ckpt, opts, name, version, "int8", metrics) | {
        "calibration": calibration_info, "quantization": quantization_settings(),
        "fp32_sha256": hashlib.sha256(fp32_bytes).hexdigest(), "fp32_test_accuracy": fp32_meta["test_accuracy"],
        "fp32_argmax_agreement": float(np.mean(logits.argmax(1) == fp32_argmax))}
    return _finish(proto, metadata), metadata


def _metadata(model: torch.nn.Module, ckpt: dict, opts: ExportOptions, name: str, version: int, precision: str,
              metrics: dict) -> dict:
    return build_metadata(
        name=name, version=version, architecture=ckpt["model_name"],
        parameters=sum(p.numel() for p in model.parameters()), metrics=metrics, precision=precision,
        opset=OPSET, ir_version=IR_VERSION, data_sha256=_data_sha256(metrics, opts.data_dir))


def _finish(proto: onnx.ModelProto, metadata: dict) -> onnx.ModelProto:
    set_metadata_props(proto, metadata)
    check_standard(proto)
    return proto


def _data_sha256(metrics: dict, data_dir: str | None) -> str:
    from models.data import data_checksum

    return metrics.get("data_sha256") or data_checksum(data_dir)
