"""How KAN bases lower to ONNX, measured in onnxruntime (CPU) side by side in one run.

`python -m bench.lowering` prints a table and writes reports/lowering.json:
1. whole flat [784, 256, 10] nets at batch 100: B-spline by the Cox–de Boor recursion vs its closed form,
   FastKAN, FasterKAN and the parameter-matched MLP, each as plainly exported and as `kanserve export`
   writes it (export/folding.py);
2. FasterKAN's first layer (784 -> 256, G = 8) split into LayerNorm+basis and its matmul, before and
   after folding, to show the basis's share of the layer time.
Variants are timed round-robin (one run of each per round) so load drift hits all of them alike.
"""
import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.timing import write_json
from export.checks import make_session
from export.folding import FoldedFasterKANLayer, fold_for_export
from export.graph import torch_to_onnx
from models.registry import create_model

MODELS = {  # label -> (registry name, args)
    "bspline_recursion": ("flat_bsplinekan", {"closed_form": False}),
    "bspline_closed": ("flat_bsplinekan", {"closed_form": True}),
    "fastkan": ("flat_fastkan", {}),
    "fasterkan": ("flat_fasterkan", {}),
    "mlp": ("flat_mlp", {}),
}


class Lambda(nn.Module):
    """Wrap a function of one tensor as a module, to export part of a layer."""

    def __init__(self, fn, *modules: nn.Module):
        super().__init__()
        self.fn, self.parts = fn, nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def fasterkan_parts(layer, folded: bool) -> dict[str, tuple[nn.Module, int]]:
    """Full layer, LayerNorm+basis, and matmul alone (each with its input width), as plainly written or
    as folded for export."""
    n_in, n_basis = layer.layernorm.normalized_shape[0], layer.spline_linear.in_features
    if folded:
        f = FoldedFasterKANLayer(layer)
        return {"layer": (f, n_in), "ln+basis": (Lambda(f.bases, f), n_in), "matmul": (Lambda(f.mix, f), n_basis)}
    basis = Lambda(lambda x: layer.rswaf(layer.layernorm(x)).flatten(1), layer)
    return {"layer": (layer, n_in), "ln+basis": (basis, n_in), "matmul": (Lambda(layer.spline_linear, layer), n_basis)}


def onnx_bytes(module: nn.Module, width: int | None) -> bytes:
    example = torch.rand(2, 1, 28, 28) if width is None else torch.randn(2, width)
    return torch_to_onnx(module.eval(), example).SerializeToString()


def build_variants() -> dict[str, tuple[bytes, tuple[int, ...]]]:
    """label -> (ONNX bytes, input shape without batch)."""
    torch.manual_seed(0)
    variants = {}
    for label, (name, args) in MODELS.items():
        model = create_model(name, **args).eval()
        variants[f"{label} (plain)"] = (onnx_bytes(model, None), (1, 28, 28))
        variants[f"{label} (kanserve)"] = (onnx_bytes(fold_for_export(model), None), (1, 28, 28))
    layer = create_model("flat_fasterkan").head[0].eval()
    for folded in (False, True):
        for part, (module, width) in fasterkan_parts(layer, folded).items():
            variants[f"fasterkan L1 {part} ({'kanserve' if folded else 'plain'})"] = (onnx_bytes(module, width),
                                                                                     (width,))
    return variants


def time_variants(variants: dict, batch: int, threads: int, runs: int, warmup: int) -> dict[str, list[float]]:
    """Per-run wall times (ms), round-robin over the variants after `warmup` runs of each."""
    rng = np.random.default_rng(0)
    jobs = {}
    for label, (model, shape) in variants.items():
        session = make_session(model, threads)
        feed = {session.get_inputs()[0].name: rng.random((batch, *shape), dtype=np.float32)}
        jobs[label] = (session, feed)
        for _ in range(warmup):
            session.run(None, feed)
    times = {label: [] for label in jobs}
    for _ in range(runs):
        for label, (session, feed) in jobs.items():
            t0 = time.perf_counter()
            session.run(None, feed)
            times[label].append((time.perf_counter() - t0) * 1e3)
    return times


def summarise(times: dict[str, list[float]], batch: int) -> dict:
    rows = {label: {"median_ms": float(np.median(t)), "min_ms": float(np.min(t)), "p10_ms": float(np.percentile(t, 10)),
                    "p90_ms": float(np.percentile(t, 90)), "n": len(t)} for label, t in times.items()}
    for kind in ("plain", "kanserve"):
        for stat in ("median", "min"):
            _ratios(rows, kind, stat, batch)
    return rows


def _ratios(rows: dict, kind: str, stat: str, batch: int) -> None:
    """Ratios to FastKAN, the basis's share and the matmul's GFLOP/s, from the `stat` time of each row."""
    key = f"{stat}_ms"
    base = rows[f"fastkan ({kind})"][key]
    for label in MODELS:
        rows[f"{label} ({kind})"][f"vs_fastkan_{stat}"] = rows[f"{label} ({kind})"][key] / base
    layer, basis, mm = (rows[f"fasterkan L1 {p} ({kind})"] for p in ("layer", "ln+basis", "matmul"))
    basis[f"share_of_parts_{stat}"] = basis[key] / (basis[key] + mm[key])
    basis[f"share_of_layer_{stat}"] = basis[key] / layer[key]
    mm[f"gflops_{stat}"] = 2 * batch * 784 * 8 * 256 / (mm[key] * 1e6)


def _notes(r: dict, stat: str) -> str:
    notes = []
    if f"vs_fastkan_{stat}" in r:
        notes.append(f"{r[f'vs_fastkan_{stat}']:.2f}x")
    if f"share_of_parts_{stat}" in r:
        notes.append(f"{100 * r[f'share_of_parts_{stat}']:.0f}% of parts")
    if f"gflops_{stat}" in r:
        notes.append(f"{r[f'gflops_{stat}']:.0f} GFLOP/s")
    return ", ".join(notes)


def print_table(rows: dict) -> None:
    """Ratios are to FastKAN (same export kind); shares are LayerNorm+basis / (LayerNorm+basis + matmul)."""
    print(f"{'variant':38} {'median ms':>9} {'min':>8} {'p90':>8}  {'by median':24} by min")
    for label, r in rows.items():
        print(f"{label:38} {r['median_ms']:9.3f} {r['min_ms']:8.3f} {r['p90_ms']:8.3f}  "
              f"{_notes(r, 'median'):24} {_notes(r, 'min')}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.lowering", description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=100)
    # One thread by default: on a 2-core machine with background work a second thread waits on a preempted
    # core and the timing measures the scheduler, not the graph.
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default: %(default)s)")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--out", default="reports/lowering.json")
    args = p.parse_args(argv)
    variants = build_variants()
    rows = summarise(time_variants(variants, args.batch, args.threads, args.runs, args.warmup), args.batch)
    print_table(rows)
    report = {"config": vars(args), "machine": {"cpu": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "load_avg": os.getloadavg()}, "results": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()
