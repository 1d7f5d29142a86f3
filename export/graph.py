"""Torch -> ONNX with the dynamo exporter, normalised to a plain, deterministic, default-domain graph."""
import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import onnx
import torch

OPSET = 18
IR_VERSION = 10  # onnx 1.23 writes IR 14 by default; onnxruntime 1.31 reads at most 13
INPUT_NAME, OUTPUT_NAME = "images", "logits"
BATCH_DIM = "batch"


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the dynamo exporter's progress prints, log lines and deprecation chatter (not errors)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def torch_to_onnx(model: torch.nn.Module, example: torch.Tensor, opset: int = OPSET,
                  output_names: list[str] | None = None) -> onnx.ModelProto:
    """Export `model` (eval mode) with a dynamic batch dimension; returns the cleaned ModelProto."""
    model = model.eval()
    batch = torch.export.Dim(BATCH_DIM, min=1, max=1 << 16)
    with quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            model, (example,), dynamo=True, opset_version=opset, input_names=[INPUT_NAME],
            output_names=output_names or [OUTPUT_NAME], dynamic_shapes=({0: batch},), optimize=True, verbose=False,
            external_data=False, report=False,
        )
    return normalise(program.model_proto)


def normalise(model: onnx.ModelProto) -> onnx.ModelProto:
    """Inline functions, drop debug info (stack traces hold local paths), pin IR version and dim names."""
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    strip_debug_info(model.graph)
    model.doc_string = ""
    del model.metadata_props[:]
    model.ir_version = IR_VERSION
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
    return model


def strip_debug_info(graph: onnx.GraphProto) -> None:
    """Remove doc strings and per-node metadata (exporter stack traces, FX names) recursively."""
    graph.doc_string = ""
    for item in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        item.doc_string = ""
        del item.metadata_props[:]
    del graph.metadata_props[:]
    for node in graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                strip_debug_info(attr.g)
            for sub in attr.graphs:
                strip_debug_info(sub)
