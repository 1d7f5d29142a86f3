"""The KAN head's learned functions, exported beside the model: functions.json (every edge's φ as the exported
weights, with the range of its input and its importance measured on real training images) and explain.onnx (the
same network with each KAN layer's input as an output, so the service can evaluate φ at an image's inputs).

Both are checked before they exist: service/kan.py's numpy φ must rebuild every layer's output from its input, and
the last layer's contributions must add up to model.onnx's logits. model.onnx itself is never touched.
"""
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.checks import check_standard, make_session, run_batched
from export.folding import fold_for_export
from export.graph import torch_to_onnx
from kanserve.repository import dump_json, write_files
from models.layers import FasterKANLayer
from service.kan import EXPLAIN_FILE, FUNCTIONS_FILE, KanFunctions, KanLayer

IMPORTANCE_IMAGES = 2048
SAMPLE_SEED = 0
CHECK_IMAGES = 1000
ATOL = 1e-4  # |Σ contributions + bias - logit|, and each hidden layer rebuilt from its input


def kan_layers(model: nn.Module) -> list[FasterKANLayer] | None:
    """The head's layers when it is a stack of FasterKAN layers (the kind functions.json describes), else None."""
    head = getattr(model, "head", None)
    layers = list(head) if isinstance(head, nn.Sequential) else []
    return layers if layers and all(isinstance(m, FasterKANLayer) for m in layers) else None


def layer_weights(layer: FasterKANLayer) -> KanLayer:
    """A torch layer as service/kan.py's KanLayer (coefficients [out, in, G] from the in-major spline weights)."""
    ln, grid = layer.layernorm, layer.rswaf.grid.detach()
    weight = layer.spline_linear.weight.detach()
    return KanLayer(_float64(weight.reshape(weight.shape[0], -1, len(grid))), _float64(grid),
                    float(layer.rswaf.inv_h), _float64(ln.weight), _float64(ln.bias), float(ln.eps))


def _float64(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()  # float32 values, exactly, in float64


class LayerInputs(nn.Module):
    """images -> (x_0, ..., x_{L-1}): the input of every head layer (the last layer itself is not computed)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h, inputs = self.model.forward_features(x), []
        for layer in list(self.model.head)[:-1]:
            inputs.append(h)
            h = layer(h)
        return (*inputs, h)


def explain_graph(model: nn.Module, n_layers: int) -> tuple[bytes, list[str]]:
    """explain.onnx from the same folded network model.onnx is exported from, and its output names."""
    names = [f"kan_input_{i}" for i in range(n_layers)]
    proto = torch_to_onnx(LayerInputs(fold_for_export(model)), torch.rand(2, 1, 28, 28), output_names=names)
    check_standard(proto)
    return proto.SerializeToString(deterministic=True), names


def training_sample(data_dir: str | Path | None, train_config: dict | None) -> tuple[np.ndarray, dict]:
    """IMPORTANCE_IMAGES images the model was trained on (its subset, without its validation hold-out), drawn
    with a fixed seed, as float32 [n, 1, 28, 28] in [0, 1]; and how they were chosen."""
    from models.data import load_mnist

    images, _ = load_mnist("train", data_dir)
    cfg = train_config or {}
    pool = len(images) - int(cfg.get("val_holdout") or 0)
    pool = min(pool, int(cfg.get("train_subset") or pool))
    n = min(IMPORTANCE_IMAGES, pool)
    index = np.sort(np.random.default_rng(SAMPLE_SEED).choice(pool, n, replace=False))
    declared = {"split": "train", "images": n, "pool": f"the first {pool} MNIST training images",
                "selection": f"numpy default_rng({SAMPLE_SEED}).choice({pool}, {n}, replace=False)",
                "importance": "mean |φ_ji(u_i)| over these images", "range": "min and max of u_i over them"}
    return (images[index].astype(np.float32) / 255.0)[:, None], declared


def measure(layers: list[KanLayer], inputs: list[np.ndarray], elements: int = 1 << 22) -> None:
    """Set each layer's input range and edge importance from its inputs x [n, in] (φ is [n, out, in]: evaluated in
    chunks of about `elements` values)."""
    for layer, x in zip(layers, inputs, strict=True):
        u = layer.edge_inputs(x)
        chunk = max(1, elements // (layer.shape[0] * layer.shape[1]))
        total = sum(np.abs(layer.phi(u[i:i + chunk])).sum(0) for i in range(0, len(u), chunk))
        layer.low, layer.high, layer.importance = u.min(0), u.max(0), total / len(u)


def check_functions(functions: KanFunctions, inputs: list[np.ndarray], logits: np.ndarray) -> dict:
    """Each layer's Σ_i φ_ji(u_i) + bias_j against the next layer's input (from explain.onnx) and, for the last
    layer, against model.onnx's logits; raises RuntimeError beyond ATOL."""
    outputs = [*inputs[1:], logits]
    errors = []
    for layer, x, y in zip(functions.layers, inputs, outputs, strict=True):
        rebuilt = layer.forward(layer.edge_inputs(x))
        errors.append(float(np.max(np.abs(rebuilt - y))))
    if not max(errors) <= ATOL:
        raise RuntimeError(f"KAN functions do not rebuild the network: max |error| per layer {errors} > {ATOL}")
    return {"max_abs_error_per_layer": errors, "n": len(logits)}


def kan_files(model: nn.Module, model_bytes: bytes, data_dir: str | Path | None, train_config: dict | None,
              check_images: np.ndarray, threads: int = 2) -> dict[str, bytes]:
    """{functions.json, explain.onnx} for a FasterKAN-headed model ({} for any other), checked against
    `model_bytes` (the model.onnx they belong to) on `check_images`."""
    torch_layers = kan_layers(model)
    if torch_layers is None:
        return {}
    explain_bytes, names = explain_graph(model, len(torch_layers))
    session = make_session(explain_bytes, threads)
    train_images, declared = training_sample(data_dir, train_config)
    layers = [layer_weights(m) for m in torch_layers]
    measure(layers, layer_inputs(session, train_images))
    functions = KanFunctions(layers, declared, names)
    functions.check()
    logits = run_batched(make_session(model_bytes, threads), check_images)
    functions.measured["check"] = check_functions(functions, layer_inputs(session, check_images), logits)
    return {FUNCTIONS_FILE: dump_json(functions.to_json()).encode(), EXPLAIN_FILE: explain_bytes}


def layer_inputs(session, images: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
    """explain.onnx's outputs for `images`, in batches: one [n, in_l] array per layer."""
    parts = [session.run(None, {"images": images[i:i + batch_size]}) for i in range(0, len(images), batch_size)]
    return [np.concatenate(layer) for layer in zip(*parts, strict=True)]



def export_functions(checkpoint: str | Path, out: str | Path, name: str | None = None, version: int = 1,
                     data_dir: str | Path | None = None, threads: int = 2) -> list[Path]:
    """Add functions.json and explain.onnx to the fp32 version of `checkpoint` already exported into the repository
    `out`, checked against its model.onnx (which, like index.json, is left as it is). Returns the files written."""
    from export.pipeline import mnist_test_set
    from models.train import load_checkpoint

    model, ckpt = load_checkpoint(checkpoint)
    if kan_layers(model) is None:
        raise ValueError(f"{ckpt['model_name']} has no FasterKAN head: functions are exported for FasterKAN heads only")
    name = name or ckpt["model_name"]
    version_dir = Path(out) / name / str(version)
    metadata = json.loads((version_dir / "metadata.json").read_text(encoding="utf-8"))
    if metadata.get("precision") != "fp32":
        raise ValueError(f"{name}/{version} is {metadata.get('precision')}: explanations are exact for fp32 only")
    images, _ = mnist_test_set(data_dir)
    files = kan_files(model, (version_dir / "model.onnx").read_bytes(), data_dir, ckpt.get("train_config"),
                      images[:CHECK_IMAGES], threads)
    write_files(out, name, str(version), files)
    return [version_dir / f for f in sorted(files)]
