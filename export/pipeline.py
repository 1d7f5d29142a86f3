"""Checkpoint -> folded torch model -> ONNX -> checks -> model repository: `export_checkpoint` and its steps."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from export.checks import accuracy, check_standard, compare_logits, make_session, run_batched
from export.folding import fold_for_export
from export.graph import IR_VERSION, OPSET, torch_to_onnx
from export.metadata import build_metadata, config_pbtxt, set_metadata_props
from export.precision import FP16_ATOL, FP16_MIN_AGREEMENT, HalfPrecision
from kanserve.repository import write_artifact

PARITY_IMAGES = 1000


@dataclass
class ExportOptions:
    name: str | None = None
    version: int = 1
    precision: str = "fp32"
    evaluate: bool = False
    data_dir: str | None = None
    threads: int = 2
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
    """Export one checkpoint into the repository `out`; nothing is written unless every check passed."""
    from models.train import load_checkpoint

    opts = options or ExportOptions()
    model, ckpt = load_checkpoint(checkpoint)
    images, labels = mnist_test_set(opts.data_dir)
    proto = to_onnx(model, opts.precision)
    check_parity(model, proto.SerializeToString(), images[:PARITY_IMAGES], opts.precision, opts.threads)
    metrics = dict(ckpt.get("metrics") or {})
    if opts.evaluate:
        session = make_session(proto.SerializeToString(), opts.threads)
        measured = accuracy(session, images, labels, progress="evaluate (onnxruntime)" if opts.progress else None)
        metrics.update(test_accuracy=measured, n_test=len(labels))
    name = opts.name or ckpt["model_name"]
    metadata = build_metadata(
        name=name, version=opts.version, architecture=ckpt["model_name"],
        parameters=sum(p.numel() for p in model.parameters()), metrics=metrics, precision=opts.precision,
        opset=OPSET, ir_version=IR_VERSION, data_sha256=_data_sha256(metrics, opts.data_dir))
    set_metadata_props(proto, metadata)
    check_standard(proto)
    return write_artifact(out, name, str(opts.version), proto.SerializeToString(deterministic=True), metadata,
                          config_pbtxt(metadata), metadata["labels"])


def _data_sha256(metrics: dict, data_dir: str | None) -> str:
    from models.data import data_checksum

    return metrics.get("data_sha256") or data_checksum(data_dir)
