"""functions.json and explain.onnx: the numpy φ of service/kan.py against the torch layers, importance and ranges
recomputed independently on the declared training images, refusal of a mismatched model.onnx, `kanserve export`
writing them and `kanserve export-functions` reproducing them byte for byte, the shipped files, and the figure."""
import json

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from torch import nn

from export.checks import check_standard, make_session, run_batched
from export.functions import check_functions, kan_files, layer_inputs
from export.pipeline import to_onnx
from export.repository import verify_artifact
from kanserve.cli import main
from kanserve.repository import file_sha256
from models.classifiers import Classifier, kan_head
from models.data import load_mnist
from models.registry import create_model
from service.kan import EXPLAIN_FILE, FUNCTIONS_FILE, KanFunctions, read_functions, sample_edges
from tests.export.conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "model_repository" / "fasterkan" / "1"


def tiny_kan(seed: int) -> nn.Module:
    """A small CNN-free FasterKAN classifier: 784 -> 24 (linear features) -> 12 -> 10 (KAN head); untrained."""
    torch.manual_seed(seed)
    return Classifier(nn.Sequential(nn.Flatten(), nn.Linear(784, 24)), kan_head("fasterkan", [24, 12, 10])).eval()


@pytest.fixture(scope="module")
def tiny(data_dir, mnist_test):
    model = tiny_kan(0)
    files = kan_files(model, to_onnx(model).SerializeToString(), data_dir, {}, mnist_test[0][:500])
    return model, files, KanFunctions.from_json(json.loads(files[FUNCTIONS_FILE]))


def _hooked(modules, images: np.ndarray, model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) of each module in `modules` when `model` runs on `images`."""
    seen = []
    hooks = [m.register_forward_hook(lambda mod, args, out: seen.append((args[0], out))) for m in modules]
    with torch.no_grad():
        model(torch.from_numpy(images))
    for h in hooks:
        h.remove()
    return seen


def test_numpy_functions_rebuild_every_torch_layer(tiny, mnist_test):
    model, files, functions = tiny
    images = mnist_test[0][:64]
    seen = _hooked(model.head, images, model)
    for layer, (x, y) in zip(functions.layers, seen, strict=True):
        u = layer.edge_inputs(x.double().numpy())
        np.testing.assert_allclose(layer.forward(u), y.double().numpy(), atol=1e-5)
        np.testing.assert_allclose(layer.phi(u).sum(-1) + layer.bias, layer.forward(u), atol=1e-12)
    explained = make_session(files[EXPLAIN_FILE]).run(None, {"images": images})
    assert len(explained) == len(functions.explain_outputs) == 2
    for got, (x, _) in zip(explained, seen, strict=True):
        np.testing.assert_allclose(got, x.numpy(), atol=1e-5)
    check_standard(onnx.load_from_string(files[EXPLAIN_FILE]))


def test_importance_and_ranges_are_what_the_declared_training_images_give(tiny, data_dir):
    """Recomputed with torch alone: mean |φ_ji(u_i)| and min/max of u_i over the declared 2,048 training images."""
    model, _, functions = tiny
    measured = functions.measured
    assert (measured["split"], measured["images"]) == ("train", 2048)
    assert measured["selection"] == "numpy default_rng(0).choice(60000, 2048, replace=False)"
    train, _ = load_mnist("train", data_dir)
    index = np.sort(np.random.default_rng(0).choice(60000, 2048, replace=False))
    images = (train[index] / 255.0).astype(np.float32)[:, None]
    norms = _hooked([m.layernorm for m in model.head], images, model)
    for layer, torch_layer, (_, u) in zip(functions.layers, model.head, norms, strict=True):
        out, inp = layer.shape
        weight = torch_layer.spline_linear.weight.detach().double().view(out, inp, -1)
        phi = torch.einsum("nig,oig->noi", torch_layer.rswaf(u).double(), weight)  # [N, out, in]
        np.testing.assert_allclose(layer.importance, phi.abs().mean(0).numpy(), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(layer.low, u.min(0).values.numpy(), atol=1e-5)
        np.testing.assert_allclose(layer.high, u.max(0).values.numpy(), atol=1e-5)


def test_sampled_edges_are_ranked_and_span_the_training_range(tiny):
    layer = tiny[2].layers[0]
    edges = sample_edges(layer, top=7, points=9)
    importance = [e["importance"] for e in edges]
    assert importance == sorted(importance, reverse=True) and importance[0] == layer.importance.max()
    for e in edges:
        assert e["x"][0] == pytest.approx(e["range"][0], abs=1e-6) and e["x"][-1] == pytest.approx(e["range"][1],
                                                                                                   abs=1e-6)
        np.testing.assert_allclose(e["y"], layer.edge(e["out"], e["in"], np.asarray(e["x"])), atol=1e-6)


def test_functions_of_another_model_are_refused(data_dir, mnist_test):
    other = to_onnx(tiny_kan(1)).SerializeToString()
    with pytest.raises(RuntimeError, match="do not rebuild"):
        kan_files(tiny_kan(0), other, data_dir, {}, mnist_test[0][:100])


@pytest.mark.parametrize("name", ["flat_mlp", "flat_fastkan"])
def test_heads_other_than_fasterkan_get_no_files(name):
    assert kan_files(create_model(name), b"", None, {}, np.zeros((1, 1, 28, 28), np.float32)) == {}


def test_export_writes_them_and_export_functions_reproduces_them(tmp_path, data_dir):
    """`kanserve export` names both files in metadata.json; `kanserve export-functions` on that version writes the
    same bytes again and leaves model.onnx, metadata.json and index.json as they were."""
    torch.manual_seed(0)
    checkpoint = tmp_path / "flat.pt"
    torch.save({"model_name": "flat_fasterkan", "model_args": {}, "state_dict": create_model("flat_fasterkan")
                .state_dict(), "train_config": {}, "metrics": {}, "epoch": 0}, checkpoint)
    repo = tmp_path / "repo"
    common = ["--checkpoint", str(checkpoint), "--out", str(repo), "--data-dir", str(data_dir)]
    main(["export", *common])
    version = repo / "flat_fasterkan" / "1"
    assert sorted(p.name for p in version.iterdir()) == ["explain.onnx", "functions.json", "metadata.json",
                                                         "model.onnx"]
    meta = verify_artifact(version / "model.onnx")
    assert meta["files"] == {name: file_sha256(version / name) for name in (EXPLAIN_FILE, FUNCTIONS_FILE)}
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    (version / EXPLAIN_FILE).unlink()
    (version / FUNCTIONS_FILE).unlink()
    main(["export-functions", *common])
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_export_functions_refuses_a_model_without_a_fasterkan_head(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export-functions", "--checkpoint", str(REPO_ROOT / "checkpoints" / "mlp.pt"), "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "no FasterKAN head" in capsys.readouterr().err


def test_shipped_fasterkan_functions_verify_and_are_exact(mnist_test):
    meta = json.loads((SHIPPED / "metadata.json").read_text())
    assert set(meta["files"]) == {EXPLAIN_FILE, FUNCTIONS_FILE}
    functions = read_functions(SHIPPED / FUNCTIONS_FILE, meta["files"][FUNCTIONS_FILE])
    assert file_sha256(SHIPPED / EXPLAIN_FILE) == meta["files"][EXPLAIN_FILE]
    check_standard(onnx.load(str(SHIPPED / EXPLAIN_FILE)))
    assert [layer.shape for layer in functions.layers] == [(128, 256), (64, 128), (32, 64), (16, 32), (10, 16)]
    assert functions.measured["images"] == 2048 and functions.measured["split"] == "train"
    images = mnist_test[0][:1000]
    logits = run_batched(make_session(str(SHIPPED / "model.onnx")), images)
    result = check_functions(functions, layer_inputs(make_session(str(SHIPPED / EXPLAIN_FILE)), images), logits)
    assert max(result["max_abs_error_per_layer"]) <= 1e-4


def test_functions_figure(tmp_path, capsys):
    repo = REPO_ROOT / "model_repository"
    out = tmp_path / "functions.png"
    main(["functions", "--model", "fasterkan", "--model-repository", str(repo), "--top", "4", "--out", str(out)])
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size[0] > 600 and png.size[1] > 600
    with pytest.raises(SystemExit) as exit_info:
        main(["functions", "--model", "mlp", "--model-repository", str(repo), "--out", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2 and "no functions.json" in capsys.readouterr().err
