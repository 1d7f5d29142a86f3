"""The KAN family in torch eager, side by side in one run, in two settings:

1. whole flat [784, 256, 10] nets at batch 100 (B-spline KAN by recursion and closed form, FastKAN, FasterKAN,
   the parameter-matched MLP) — the setting bench/lowering.py measures in onnxruntime;
2. the published speed claims' own setting: one 100 -> 100 layer at batch 8 (fast-kan's notebook: efficient-kan
   KANLinear G=5 k=3 vs FastKANLayer G=8 with LayerNorm off; FasterKAN G=8; nn.Linear for reference).

Forward only, under torch.inference_mode, explicit threads, warm-up, round-robin, median of many.
Run: python -m bench.family [--threads 1] [--out reports/family.json]
"""
import argparse

import torch
from torch import nn

from bench.lowering import MODELS as NETS
from bench.timing import round_robin, summary, torch_forward, write_json
from models.layers import BSplineKANLayer, FasterKANLayer, FastKANLayer
from models.registry import create_model

# The claims (anchors/kan.md §2): ratio = slower / faster forward time.
CLAIMS = {
    "fastkan_vs_bspline": {"claim": 3.33, "slow": "bspline_recursion", "fast": "fastkan",
                           "text": "FastKAN forward 3.33x faster than B-spline KAN (efficient-kan)",
                           "measured_by_authors": "one 100->100 layer, batch 8, V100, no cuda synchronize",
                           "source": "fast-kan's README and its notebooks/test_running_time.ipynb"},
    "fasterkan_vs_fastkan": {"claim": 1.5, "slow": "fastkan", "fast": "fasterkan",
                             "text": "FasterKAN forward 1.5x faster than FastKAN",
                             "measured_by_authors": "[784,256,10] G=16, batch 64, RTX 3050 Ti laptop, CUDA events "
                                                    "(its own table gives 1.38x)",
                             "source": "faster-kan's README benchmark table"},
}


def _fastkan_no_ln(n_in: int, n_out: int) -> nn.Module:
    layer = FastKANLayer(n_in, n_out)
    layer.layernorm = nn.Identity()  # the notebook's FastKANLayer(100, 100) ran with LayerNorm off
    return layer


LAYERS = {  # label -> builder of one 100 -> 100 layer
    "bspline_recursion": lambda: BSplineKANLayer(100, 100, closed_form=False),
    "bspline_closed": lambda: BSplineKANLayer(100, 100, closed_form=True),
    "fastkan": lambda: _fastkan_no_ln(100, 100),
    "fasterkan": lambda: FasterKANLayer(100, 100),
    "mlp": lambda: nn.Linear(100, 100),
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build(setting: str) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    if setting == "net_784_256_10_b100":
        return {label: (create_model(name, **args).eval(), torch.rand(100, 1, 28, 28))
                for label, (name, args) in NETS.items()}
    return {label: (make().eval(), torch.randn(8, 100)) for label, make in LAYERS.items()}


def measure_setting(setting: str, runs: int, warmup: int, device: str) -> dict:
    models = build(setting)
    jobs = {label: torch_forward(m, x, device) for label, (m, x) in models.items()}
    times = round_robin(jobs, runs, warmup)
    return {label: {**summary(t), "parameters": n_params(models[label][0]), "samples_ms": [round(v, 5) for v in t]}
            for label, t in times.items()}


def claim_checks(rows: dict) -> dict:
    """Measured slow/fast ratio of medians for each claim in one setting."""
    return {key: rows[c["slow"]]["median_ms"] / rows[c["fast"]]["median_ms"] for key, c in CLAIMS.items()}


def measure(threads: int, net_runs: int = 60, layer_runs: int = 1000, warmup: int = 5, device: str = "cpu") -> dict:
    torch.set_num_threads(threads)
    settings = {"net_784_256_10_b100": net_runs, "layer_100_100_b8": layer_runs}
    result = {"device": device, "threads": threads, "torch": torch.__version__, "claims": CLAIMS, "settings": {}}
    for setting, runs in settings.items():
        rows = measure_setting(setting, runs, warmup if setting.startswith("net") else 10 * warmup, device)
        result["settings"][setting] = {"rows": rows, "ratios": claim_checks(rows)}
    return result


def print_table(result: dict) -> None:
    for setting, s in result["settings"].items():
        print(f"torch eager {setting} ({result['device']}, {result['threads']} threads)")
        for label, r in s["rows"].items():
            print(f"  {label:20} {r['median_ms']:9.3f} ms  p90 {r['p90_ms']:8.3f}  n={r['n']:<5} "
                  f"{r['parameters']:>10,} params")
        for key, ratio in s["ratios"].items():
            print(f"  {CLAIMS[key]['text']}: measured {ratio:.2f}x")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.family", description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--net-runs", type=int, default=60)
    p.add_argument("--layer-runs", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="reports/family.json")
    args = p.parse_args(argv)
    result = measure(args.threads, args.net_runs, args.layer_runs, device=args.device)
    print_table(result)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
