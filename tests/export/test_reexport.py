"""Re-exporting a shipped checkpoint on a later commit reproduces the shipped artifacts: the fp32 model.onnx byte
for byte (the int8 export rebuilds it and records its sha256), the int8 one up to the last bits of
calibration-derived scales (they come from float activations, which differ in the last bits between CPU kernels;
weights, zero points and graph are identical)."""
import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from kanserve.repository import file_sha256
from tests.export.conftest import REPO_ROOT, REPOSITORY, run_export

CHECKPOINT = REPO_ROOT / "checkpoints/fasterkan.pt"
SHIPPED = REPOSITORY / "fasterkan"


def _tools_differ() -> str | None:
    from export.metadata import tool_versions

    shipped = json.loads((SHIPPED / "1/metadata.json").read_text())["tools"]
    return None if shipped == tool_versions() else f"tools {tool_versions()} differ from the shipped {shipped}"


@pytest.fixture(scope="module")
def reexported(data_dir, tmp_path_factory, monkeypatch_module):
    if not (CHECKPOINT.exists() and (SHIPPED / "2/model.onnx").exists()):
        pytest.skip("no shipped fasterkan checkpoint and versions 1, 2")
    if reason := _tools_differ():
        pytest.skip(reason)  # another exporter may legitimately write other bytes
    monkeypatch_module.setattr("export.metadata.git_commit", lambda: "0" * 40)  # "a later commit"
    out = tmp_path_factory.mktemp("reexport")
    run_export(CHECKPOINT, out, data_dir, "--precision", "int8")
    return out / "fasterkan"


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_fp32_bytes_reproduce_the_shipped_file(reexported):
    meta = json.loads((reexported / "2/metadata.json").read_text())
    assert meta["fp32_sha256"] == file_sha256(SHIPPED / "1/model.onnx")  # the fp32 export, as `--evaluate` writes it
    assert meta["git_commit"] == "0" * 40 != json.loads((SHIPPED / "1/metadata.json").read_text())["git_commit"]


def test_int8_reproduces_the_shipped_graph_and_weights(reexported):
    new, old = (onnx.load(str(d / "2/model.onnx")) for d in (reexported, SHIPPED))
    assert [(n.op_type, list(n.input), list(n.output)) for n in new.graph.node] == [
        (n.op_type, list(n.input), list(n.output)) for n in old.graph.node]
    assert {p.key: p.value for p in new.metadata_props} == {p.key: p.value for p in old.metadata_props}
    old_init = {t.name: numpy_helper.to_array(t) for t in old.graph.initializer}
    for t in new.graph.initializer:
        a, b = numpy_helper.to_array(t), old_init.pop(t.name)
        if np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=1e-4, err_msg=t.name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=t.name)
    assert not old_init
