"""The shipped artifacts are plain ONNX: other runtimes compute what onnxruntime computes.

- OpenVINO (CPU plugin, f32 inference precision): the same argmax as onnxruntime on 1,000 test images for every
  artifact, int8 included (OpenVINO runs QDQ graphs with its own int8 kernels); fp32 logits within 1e-4.
- onnx.reference (numpy, the ONNX spec's executable form) on a few images: fp32 within 1e-4 of onnxruntime.
  int8 within 0.5: the reference dequantizes, computes in float and quantizes again, while onnxruntime fuses each
  DQ → op → Q into an integer kernel that requantizes with its own rounding, so an intermediate uint8 can land one
  step (a scale of ~0.01–0.1) away and the difference propagates; measured max |Δlogit| 0.06 (FasterKAN) and 0
  (MLP) on 3 images, with the same argmax. onnx 1.23's reference has no QuantizeLinear/DequantizeLinear for
  opset 18, so int8 graphs are converted to opset 19 for it (the ops' semantics are unchanged; 19 adds types).
"""
import numpy as np
import onnx
import onnx.version_converter
import openvino as ov
import pytest
from onnx.reference import ReferenceEvaluator

from export.checks import make_session, run_batched
from tests.export.conftest import ABSENT, ENTRIES, REPOSITORY

N_OPENVINO, N_REFERENCE = 1000, 3
ATOL = {"fp32": 1e-4, "int8": 0.5}
IDS = [f"{e['name']}/{e['version']}" for e in ENTRIES] or None


@pytest.fixture(scope="module")
def images(mnist_test) -> np.ndarray:
    return mnist_test[0][:N_OPENVINO]


def _precision(path) -> str:
    return "int8" if any(n.op_type == "DequantizeLinear" for n in onnx.load(str(path)).graph.node) else "fp32"


@pytest.mark.parametrize("entry", ENTRIES or [ABSENT], ids=IDS)
def test_openvino_gives_onnxruntimes_argmax(entry, images):
    path = REPOSITORY / entry["path"]
    expected = run_batched(make_session(str(path)), images)
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2})
    got = np.concatenate([compiled(images[i : i + 250])[0] for i in range(0, len(images), 250)])
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))
    if _precision(path) == "fp32":
        np.testing.assert_allclose(got, expected, atol=ATOL["fp32"], rtol=0)


@pytest.mark.parametrize("entry", ENTRIES or [ABSENT], ids=IDS)
def test_onnx_reference_agrees_with_onnxruntime(entry, images):
    path = REPOSITORY / entry["path"]
    precision = _precision(path)
    model = onnx.load(str(path))
    if precision == "int8":
        model = onnx.version_converter.convert_version(model, 19)
    (got,) = ReferenceEvaluator(model).run(None, {"images": images[:N_REFERENCE]})
    expected = run_batched(make_session(str(path)), images[:N_REFERENCE])
    np.testing.assert_allclose(got, expected, atol=ATOL[precision], rtol=0)
    np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))
