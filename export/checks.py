"""Checks an artifact must pass before it exists: standard ops only, onnx full check, ORT vs torch parity.

No torch here: the service tests and `verify_artifact` use these on shipped files.
"""
from collections.abc import Iterator

import numpy as np
import onnx
import onnxruntime as ort
from tqdm import tqdm

DEFAULT_DOMAINS = ("", "ai.onnx")


def iter_nodes(model: onnx.ModelProto) -> Iterator[onnx.NodeProto]:
    """Every node: main graph, subgraphs of control-flow attributes, and local functions."""
    stack = [model.graph.node, *(f.node for f in model.functions)]
    while stack:
        for node in stack.pop():
            yield node
            for attr in node.attribute:
                stack.extend(g.node for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs))


def non_standard(model: onnx.ModelProto) -> list[str]:
    """Descriptions of nodes, functions or opset imports outside the default ONNX domain."""
    bad = [f"{n.domain}::{n.op_type}" for n in iter_nodes(model) if n.domain not in DEFAULT_DOMAINS]
    bad += [f"function {f.domain}::{f.name}" for f in model.functions]
    bad += [f"opset import {o.domain}" for o in model.opset_import if o.domain not in DEFAULT_DOMAINS]
    return sorted(set(bad))


def check_standard(model: onnx.ModelProto) -> None:
    """Raise RuntimeError unless the model is default-domain only and passes onnx's full check."""
    bad = non_standard(model)
    if bad:
        raise RuntimeError(f"non-standard ONNX content: {', '.join(bad)}")
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise RuntimeError(f"onnx.checker failed: {e}") from e


def make_session(model: bytes | str, threads: int = 2) -> ort.InferenceSession:
    """A bare CPU session with explicit intra-op threads (bytes or a path)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def run_batched(session: ort.InferenceSession, images: np.ndarray, batch_size: int = 500,
                progress: str | None = None) -> np.ndarray:
    """Logits [N, 10] for float32 images [N, 1, 28, 28], in batches; `progress` names a progress bar to show."""
    name = session.get_inputs()[0].name
    parts = []
    with tqdm(total=len(images), desc=progress, unit="img", disable=progress is None, dynamic_ncols=True) as bar:
        for i in range(0, len(images), batch_size):
            parts.append(session.run(None, {name: images[i : i + batch_size]})[0])
            bar.update(len(parts[-1]))
    return np.concatenate(parts).astype(np.float32)


def compare_logits(reference: np.ndarray, candidate: np.ndarray, atol: float = 1e-4) -> dict:
    """Max |Δlogit| and argmax agreement; raise RuntimeError when beyond `atol` or any argmax differs."""
    max_abs = float(np.max(np.abs(reference.astype(np.float64) - candidate)))
    agree = float(np.mean(reference.argmax(1) == candidate.argmax(1)))
    result = {"max_abs_diff": max_abs, "argmax_agreement": agree, "n": len(reference)}
    if not max_abs <= atol or agree < 1.0:
        raise RuntimeError(f"onnxruntime vs torch parity failed: {result} (atol {atol})")
    return result


def accuracy(session: ort.InferenceSession, images: np.ndarray, labels: np.ndarray,
             progress: str | None = None) -> float:
    return float(np.mean(run_batched(session, images, progress=progress).argmax(1) == labels))
