"""int8 export: onnxruntime's static QDQ quantization of the fp32 artifact, calibrated on training images only.

Decisions, each measured on the shipped models (10,000 test images, see the int8 versions' metadata.json):
- QDQ format (QuantizeLinear/DequantizeLinear are default-domain ops, so the contract holds), int8 weights per
  output channel, uint8 asymmetric activations, MinMax calibration on 512 training images.
- 7-bit weights (`reduce_range`): on x86 CPUs without VNNI, onnxruntime's u8×s8 kernels sum pairs of products in
  int16 (vpmaddubsw) and saturate; full 8-bit weights lost 0.6 points on the FasterKAN model there (99.62 → 99.00)
  while a VNNI CPU computes the same file exactly. 7-bit weights cannot saturate, so the file gives the same
  integers, and the accuracy recorded at export, on every x86 CPU.
- The convolutional features, every Gemm/MatMul (including each KAN layer's spline mixing) and the cheap ops
  between them run in int8; the KAN basis (LayerNormalization, Sub, Tanh) stays float: onnxruntime has no int8
  kernel for them, so Q/DQ pairs around them would only add work (bench/precision.py measures that variant).
"""
import contextlib
import hashlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

from export.graph import INPUT_NAME, normalise

CALIBRATION_IMAGES = 512
CALIBRATION_SEED = 0
CALIBRATION_BATCH = 64
MAX_ACCURACY_DROP = 0.002  # 0.2 points: an int8 export below fp32 accuracy minus this is refused
INT8_OP_TYPES = ("Conv", "Gemm", "MatMul", "Relu", "MaxPool", "Add", "Mul", "Sigmoid", "Reshape", "Transpose",
                 "Softmax", "Unsqueeze")
BASIS_OP_TYPES = ("LayerNormalization", "Sub", "Tanh")


class AccuracyRefused(RuntimeError):
    """The int8 model lost more accuracy than MAX_ACCURACY_DROP; nothing is written."""


def quantization_settings(op_types: tuple[str, ...] = INT8_OP_TYPES) -> dict:
    """What metadata.json records about how the weights and activations were quantized."""
    return {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ",
            "weights": "int8, per output channel, symmetric, 7-bit range (reduce_range)",
            "activations": "uint8, per tensor, asymmetric", "op_types": list(op_types)}


def calibration_set(data_dir: str | Path | None) -> tuple[np.ndarray, dict]:
    """The declared calibration images (training split only) as float32 [512, 1, 28, 28], and their description."""
    from models.data import load_mnist

    images, _ = load_mnist("train", data_dir)
    index = np.sort(np.random.default_rng(CALIBRATION_SEED).choice(len(images), CALIBRATION_IMAGES, replace=False))
    info = {"split": "train", "images": CALIBRATION_IMAGES, "method": "MinMax",
            "selection": (f"numpy.random.default_rng({CALIBRATION_SEED}).choice({len(images)}, "
                          f"{CALIBRATION_IMAGES}, replace=False), sorted"),
            "indices_sha256": hashlib.sha256(index.astype("<i8").tobytes()).hexdigest()}
    return (images[index].astype(np.float32) / 255.0)[:, None], info


class _Batches(CalibrationDataReader):
    def __init__(self, images: np.ndarray):
        self._feeds = iter([{INPUT_NAME: images[i : i + CALIBRATION_BATCH]}
                            for i in range(0, len(images), CALIBRATION_BATCH)])

    def get_next(self) -> dict | None:
        return next(self._feeds, None)


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantizer logs advice ("consider pre-processing") on the root logger for every call."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_int8(fp32_model: bytes, calibration: np.ndarray,
                  op_types: tuple[str, ...] = INT8_OP_TYPES) -> onnx.ModelProto:
    """QDQ int8 model of `fp32_model`, normalised like every export (no metadata yet, not checked yet)."""
    with tempfile.TemporaryDirectory(prefix="kanserve-int8-") as tmp, _quiet_quantizer():
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(fp32_model)
        quantize_static(str(src), str(dst), _Batches(calibration), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(op_types), per_channel=True, reduce_range=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        return normalise(onnx.load(str(dst)))


def check_accuracy_drop(int8_accuracy: float, fp32_accuracy: float, max_drop: float = MAX_ACCURACY_DROP) -> None:
    """Raise AccuracyRefused when int8 is more than `max_drop` below fp32 (both on the same test images)."""
    if int8_accuracy < fp32_accuracy - max_drop - 1e-12:
        raise AccuracyRefused(
            f"int8 test accuracy {100 * int8_accuracy:.2f} % is {100 * (fp32_accuracy - int8_accuracy):.2f} points "
            f"below fp32's {100 * fp32_accuracy:.2f} % (allowed: {100 * max_drop:.1f}); nothing written")
