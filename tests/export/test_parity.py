"""onnxruntime vs torch on 1,000 real MNIST test images: max |Δlogit| ≤ 1e-4 and identical argmax."""
import pytest

from export.pipeline import PARITY_IMAGES, check_parity
from tests.export.conftest import CASES


@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_on_mnist(export_case, mnist_test, case):
    model, proto = export_case(case)
    result = check_parity(model, proto.SerializeToString(), mnist_test[0][:PARITY_IMAGES])
    assert result["n"] == 1000
    assert result["max_abs_diff"] <= 1e-4 and result["argmax_agreement"] == 1.0
