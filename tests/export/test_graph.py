"""Every registered model exports to a plain default-domain graph that passes onnx's full check and loads in
onnxruntime 1.31, with a dynamic batch dimension and the images -> logits contract."""
import numpy as np
import onnx
import pytest
import torch

from export.checks import check_standard, make_session, non_standard
from tests.export.conftest import CASES


@pytest.mark.parametrize("case", sorted(CASES))
def test_standard_ops_only(export_case, case):
    _, proto = export_case(case)
    assert non_standard(proto) == []
    assert not proto.functions
    assert proto.ir_version <= 10
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 18)]
    check_standard(proto)


@pytest.mark.parametrize("case", sorted(CASES))
def test_io_contract_and_dynamic_batch(export_case, case):
    model, proto = export_case(case)
    session = make_session(proto.SerializeToString())
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape[1:]) == ("images", "tensor(float)", [1, 28, 28])
    assert (out.name, out.type, out.shape[1:]) == ("logits", "tensor(float)", [10])
    assert isinstance(inp.shape[0], str) and isinstance(out.shape[0], str)
    rng = np.random.default_rng(0)
    for n in (1, 7, 256):
        x = rng.random((n, 1, 28, 28), dtype=np.float32)
        (logits,) = session.run(None, {"images": x})
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        assert logits.shape == (n, 10) and logits.dtype == np.float32
        np.testing.assert_allclose(logits, ref, atol=1e-4, rtol=0)


def test_non_standard_domain_is_detected(export_case):
    _, proto = export_case("flat_mlp")
    bad = onnx.ModelProto()
    bad.CopyFrom(proto)
    bad.graph.node[0].domain = "com.microsoft"
    assert non_standard(bad) == ["com.microsoft::" + bad.graph.node[0].op_type]
    with pytest.raises(RuntimeError, match="non-standard"):
        check_standard(bad)
