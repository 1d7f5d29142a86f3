"""torch eager vs onnxruntime for the report's two models (mlp, fasterkan) across batch sizes, side by side.

Per (model, backend, batch): latency median/p90, images/s and achieved GFLOP/s = 2·MACs·batch / time, where MACs
are the conv + linear multiply-accumulates counted once per image with forward hooks (attention bmm and the KAN
bases' elementwise work are not counted, so this is a lower bound on the work done). Beside them, this machine's
GEMM rate measured in the same run (onnxruntime MatMul and torch.mm, 2048×2048 float32, same threads).
All variants run round-robin; big batches get fewer repetitions. The ONNX files are the shipped
model_repository/NAME/1/model.onnx when present, else untrained exports (latency does not depend on weights).
Run: python -m bench.model_latency [--threads 1] [--out reports/model_latency.json]
"""
import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from bench.timing import ort_forward, round_robin, summary, torch_forward, write_json
from models.registry import create_model

MODELS = ("mlp", "fasterkan")
BATCHES = (1, 8, 32, 128, 256)
FULL_REPS = {1: 300, 8: 100, 32: 40, 128: 12, 256: 8}
GEMM_N = 2048


def count_macs(model: nn.Module) -> dict:
    """Conv2d and Linear multiply-accumulates per image (forward hooks, one image, eval mode)."""
    macs = {"conv": 0, "linear": 0}

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            per_out = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            macs["conv"] += output.numel() * per_out
        else:
            macs["linear"] += output.numel() * module.in_features

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            model.eval()(torch.rand(1, 1, 28, 28))
    finally:
        for h in hooks:
            h.remove()
    return {**macs, "total": macs["conv"] + macs["linear"]}


def session(model: bytes | str, threads: int, providers: list[str] | None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=providers or ["CPUExecutionProvider"])


def onnx_models(repo: Path | None) -> tuple[dict[str, bytes | str], str]:
    """name -> ONNX path or bytes, and where they came from ("shipped" or "untrained export")."""
    shipped = {n: repo / n / "1" / "model.onnx" for n in MODELS} if repo else {}
    if shipped and all(p.exists() for p in shipped.values()):
        return {n: str(p) for n, p in shipped.items()}, f"shipped ({repo})"
    from export.pipeline import to_onnx

    torch.manual_seed(0)
    return {n: to_onnx(create_model(n).eval()).SerializeToString() for n in MODELS}, "untrained export"


def gemm_onnx() -> bytes:
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("A", TensorProto.FLOAT, [GEMM_N, GEMM_N])
    b = helper.make_tensor_value_info("B", TensorProto.FLOAT, [GEMM_N, GEMM_N])
    c = helper.make_tensor_value_info("C", TensorProto.FLOAT, [GEMM_N, GEMM_N])
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "gemm", [a, b], [c])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    return model.SerializeToString()


def gemm_rate(threads: int, runs: int, device: str, providers: list[str] | None) -> dict:
    """GFLOP/s of a 2048×2048 float32 matmul in onnxruntime and torch (median of `runs`, round-robin)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32) for _ in range(2))
    sess = session(gemm_onnx(), threads, providers)
    ta, tb = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def torch_mm():
        torch.mm(ta, tb)
        sync()

    times = round_robin({"onnxruntime": lambda: sess.run(None, {"A": a, "B": b}), "torch": torch_mm}, runs, 2)
    flop = 2 * GEMM_N**3
    stats = {k: summary(t) for k, t in times.items()}
    return {k: {**s, "gflops": flop / (s["median_ms"] * 1e6)} for k, s in stats.items()} | {
        "n": GEMM_N, "ort_providers": sess.get_providers()}


def scaled_reps(scale: float) -> dict[int, int]:
    return {b: max(2, round(r * scale)) for b, r in FULL_REPS.items()}


def measure(repo: Path | None, threads: int, scale: float = 1.0, warmup: int = 3, device: str = "cpu",
            providers: list[str] | None = None, batches=BATCHES) -> dict:
    """Round-robin over every (model, backend, batch); returns rows and the GEMM rates."""
    torch.set_num_threads(threads)
    models, source = onnx_models(repo)
    reps, rng = scaled_reps(scale), np.random.default_rng(0)
    jobs, runs, meta, used_providers = {}, {}, {}, {}
    for name in MODELS:
        torch_model = create_model(name).eval()
        macs = count_macs(torch_model)
        sess = session(models[name], threads, providers)
        used_providers[name] = sess.get_providers()
        for batch in batches:
            x = rng.random((batch, 1, 28, 28), dtype=np.float32)
            for backend, fn in (("torch", torch_forward(torch_model, torch.from_numpy(x), device)),
                                ("onnxruntime", ort_forward(sess, x))):
                key = f"{name}|{backend}|{batch}"
                jobs[key], runs[key], meta[key] = fn, reps[batch], (name, backend, batch, macs)
    times = round_robin(jobs, runs, warmup)
    rows = []
    for key, t in times.items():
        name, backend, batch, macs = meta[key]
        s = summary(t)
        rows.append({"model": name, "backend": backend, "batch": batch, **s,
                     "images_per_s": batch / (s["median_ms"] / 1e3),
                     "gflops": 2 * macs["total"] * batch / (s["median_ms"] * 1e6),
                     "samples_ms": [round(v, 5) for v in t]})
    return {"threads": threads, "device": device, "onnx_source": source, "ort_providers": used_providers,
            "macs_per_image": {n: count_macs(create_model(n)) for n in MODELS}, "reps": reps,
            "gemm": gemm_rate(threads, max(3, round(10 * scale)), device, providers), "rows": rows}


def print_table(result: dict) -> None:
    g = result["gemm"]
    print(f"GEMM {g['n']}^2 fp32: onnxruntime {g['onnxruntime']['gflops']:.1f} GFLOP/s, torch "
          f"{g['torch']['gflops']:.1f}"
          f" GFLOP/s ({result['threads']} threads); ONNX: {result['onnx_source']}")
    print(f"{'model':10} {'backend':12} {'batch':>5} {'median ms':>10} {'p90 ms':>9} {'img/s':>9} {'GFLOP/s':>8} "
          f"{'n':>4}")
    for r in sorted(result["rows"], key=lambda r: (r["model"], r["backend"], r["batch"])):
        print(f"{r['model']:10} {r['backend']:12} {r['batch']:>5} {r['median_ms']:>10.3f} {r['p90_ms']:>9.3f} "
              f"{r['images_per_s']:>9.0f} {r['gflops']:>8.1f} {r['n']:>4}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.model_latency", description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--scale", type=float, default=1.0, help="multiply the repetition counts")
    p.add_argument("--device", default="cpu", help="torch device (cuda on a GPU host)")
    p.add_argument("--providers", default="CPUExecutionProvider", help="comma-separated onnxruntime providers")
    p.add_argument("--out", default="reports/model_latency.json")
    args = p.parse_args(argv)
    result = measure(args.model_repository, args.threads, args.scale, device=args.device,
                     providers=args.providers.split(","))
    print_table(result)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
