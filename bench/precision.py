"""fp32 vs int8 (vs fp16 where shipped) per model, and onnxruntime vs OpenVINO, all side by side in one run.

Per (model, precision, batch): latency p50/p90, images/s and achieved GOP/s = 2·MACs·batch / median time, beside
this CPU's GEMM rates measured in the same run (onnxruntime MatMul float32 and MatMulInteger uint8×int8, N×N,
same threads). Accuracy is read from each artifact's metadata.json (measured by `kanserve export` on the 10,000
test images). FasterKAN also gets an unshipped variant whose KAN basis (LayerNorm, Sub, Tanh) is quantized too,
built here from the fp32 artifact with the same calibration, to measure what quantizing the basis would give.
Runtimes: onnxruntime vs OpenVINO's CPU plugin at f32, and bf16 where the CPU has bf16 instructions.
Every job runs round-robin with every other, so load drift hits all alike.
Run: python -m bench.precision [--threads 1] [--scale 1] [--out reports/precision.json]
"""
import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.model_latency import count_macs, session
from bench.timing import machine_info, ort_forward, round_robin, summary, write_json

MODELS = ("mlp", "fasterkan")
PRECISION_OF_VERSION = {"1": "fp32", "2": "int8", "3": "fp16"}
BASIS_VARIANT = "int8+basis"
BATCHES = (1, 8, 64, 256)
RUNTIME_BATCHES = (1, 64)
FULL_REPS = {1: 200, 8: 60, 64: 15, 256: 6}
GEMM_N = 1024
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def shipped(repo: Path) -> dict[tuple[str, str], dict]:
    """(model, precision) -> {path, metadata} for every shipped version of the two models."""
    from kanserve.repository import load_index

    out = {}
    for e in load_index(repo):
        if e["name"] in MODELS and e["version"] in PRECISION_OF_VERSION:
            path = repo / e["path"]
            out[(e["name"], PRECISION_OF_VERSION[e["version"]])] = {
                "path": str(path), "metadata": json.loads((path.parent / "metadata.json").read_text())}
    return out


def basis_variant(fp32_path: str, data_dir: str | None) -> dict:
    """FasterKAN with its basis quantized too: same quantizer and calibration, accuracy on the 10,000 test images."""
    from export.checks import accuracy, make_session
    from export.pipeline import mnist_test_set
    from export.quantize import BASIS_OP_TYPES, INT8_OP_TYPES, calibration_set, quantize_int8

    calibration, _ = calibration_set(data_dir)
    model = quantize_int8(Path(fp32_path).read_bytes(), calibration, INT8_OP_TYPES + BASIS_OP_TYPES)
    data = model.SerializeToString()
    acc = accuracy(make_session(data), *mnist_test_set(data_dir))
    return {"bytes": data, "metadata": {"test_accuracy": acc, "n_test": 10000, "op_types": list(INT8_OP_TYPES +
                                                                                                BASIS_OP_TYPES)}}


def gemm_models(n: int = GEMM_N) -> dict[str, bytes]:
    """n×n MatMul in float32 and MatMulInteger uint8 × int8 -> int32 (the kernel a QDQ MatMul/Conv runs)."""
    from onnx import TensorProto, helper

    def model(op: str, a_type: int, b_type: int, c_type: int) -> bytes:
        a, b = (helper.make_tensor_value_info(name, t, [n, n]) for name, t in (("A", a_type), ("B", b_type)))
        c = helper.make_tensor_value_info("C", c_type, [n, n])
        m = helper.make_model(helper.make_graph([helper.make_node(op, ["A", "B"], ["C"])], "gemm", [a, b], [c]),
                              opset_imports=[helper.make_opsetid("", 18)])
        m.ir_version = 10
        return m.SerializeToString()

    return {"fp32": model("MatMul", TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT),
            "int8": model("MatMulInteger", TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32)}


def gemm_jobs(threads: int) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    feeds = {"fp32": {"A": rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32),
                      "B": rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)},
             "int8": {"A": rng.integers(0, 256, (GEMM_N, GEMM_N), dtype=np.uint8),  # 7-bit weights, as shipped
                      "B": rng.integers(-64, 65, (GEMM_N, GEMM_N), dtype=np.int8)}}
    jobs = {}
    for precision, data in gemm_models().items():
        sess = session(data, threads, None)
        jobs[f"gemm|{precision}"] = lambda s=sess, f=feeds[precision]: s.run(None, f)
    return jobs


def cpu_has_bf16() -> bool:
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return any(f in flags for f in BF16_FLAGS)


def openvino_forward(path: str, x: np.ndarray, threads: int, hint: str) -> Callable[[], object]:
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(path), "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                                 "INFERENCE_NUM_THREADS": threads,
                                                    "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    return lambda: request.infer({0: x})


def runtime_list() -> tuple[list[str], dict[str, str]]:
    """The runtimes to time, and why any other is absent."""
    runtimes, absent = ["onnxruntime"], {}
    try:
        import openvino  # noqa: F401
    except ImportError:
        return runtimes, {"openvino": "not installed (pip install '.[dev]')"}
    runtimes.append("openvino f32")
    if cpu_has_bf16():
        runtimes.append("openvino bf16")
    else:
        flags = " / ".join(BF16_FLAGS)
        absent["openvino bf16"] = f"this CPU has no bf16 instructions ({flags} absent in /proc/cpuinfo)"
    return runtimes, absent


def build_jobs(models: dict[tuple[str, str], dict], threads: int, scale: float):
    """Every timed job (key "runtime|model|precision|batch") with its repetitions."""
    rng = np.random.default_rng(0)
    runtimes, _ = runtime_list()
    jobs, reps = {}, {}
    for (name, precision), art in models.items():
        source = art.get("bytes") or art["path"]
        sess = session(source, threads, None)
        for batch in BATCHES:
            x = rng.random((batch, 1, 28, 28), dtype=np.float32)
            key = f"onnxruntime|{name}|{precision}|{batch}"
            jobs[key], reps[key] = ort_forward(sess, x), max(2, round(FULL_REPS[batch] * scale))
            if batch not in RUNTIME_BATCHES or precision == BASIS_VARIANT:
                continue
            for runtime in runtimes[1:]:
                key = f"{runtime}|{name}|{precision}|{batch}"
                jobs[key] = openvino_forward(art["path"], x, threads, runtime.split()[1])
                reps[key] = reps[f"onnxruntime|{name}|{precision}|{batch}"]
    for key, fn in gemm_jobs(threads).items():
        jobs[key], reps[key] = fn, max(3, round(10 * scale))
    return jobs, reps


def measure(repo: Path, threads: int = 1, scale: float = 1.0, data_dir: str | None = None, basis: bool = True) -> dict:
    """Round-robin over every job; returns rows, GEMM rates, accuracies and which runtimes were absent."""
    from models.registry import create_model

    ort.set_default_logger_severity(3)
    models = shipped(repo)
    if basis and ("fasterkan", "fp32") in models:
        models[("fasterkan", BASIS_VARIANT)] = basis_variant(models[("fasterkan", "fp32")]["path"], data_dir)
    jobs, reps = build_jobs(models, threads, scale)
    times = round_robin(jobs, reps, warmup=2)
    macs = {n: count_macs(create_model(n))["total"] for n in MODELS}
    rows = [row(key, t, macs) for key, t in times.items() if not key.startswith("gemm|")]
    gemm = {k.split("|")[1]: summary(t) for k, t in times.items() if k.startswith("gemm|")}
    for g in gemm.values():
        g["gops"] = 2 * GEMM_N**3 / (g["median_ms"] * 1e6)
    accuracy = {f"{n}|{p}": {k: art["metadata"].get(k) for k in ("test_accuracy", "n_test")}
                for (n, p), art in models.items()}
    info = machine_info(threads)
    machine = {k: info[k] for k in ("cpu", "cpu_flags", "available_cores", "load_avg_start", "onnxruntime",
                                    "git_commit")}
    machine["openvino"] = _version("openvino")
    return {"threads": threads, "gemm": {"n": GEMM_N, **gemm}, "macs_per_image": macs, "rows": rows,
            "accuracy": accuracy, "absent": runtime_list()[1], "machine": machine}


def _version(pkg: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def row(key: str, t: list[float], macs: dict[str, int]) -> dict:
    runtime, name, precision, batch = key.split("|")
    s = summary(t)
    return {"runtime": runtime, "model": name, "precision": precision, "batch": int(batch), **s,
            "images_per_s": int(batch) / (s["median_ms"] / 1e3),
            "gops": 2 * macs[name] * int(batch) / (s["median_ms"] * 1e6), "samples_ms": [round(v, 5) for v in t]}


def print_table(result: dict) -> None:
    g = result["gemm"]
    print(f"GEMM {g['n']}^2, {result['threads']} thread(s): fp32 {g['fp32']['gops']:.1f} GFLOP/s, "
          f"int8 {g['int8']['gops']:.1f} GOP/s")
    print(f"{'runtime':14} {'model':10} {'precision':11} {'batch':>5} {'p50 ms':>9} {'p90 ms':>9} {'img/s':>8} "
          f"{'GOP/s':>7}")
    for r in sorted(result["rows"], key=lambda r: (r["runtime"], r["model"], r["precision"], r["batch"])):
        print(f"{r['runtime']:14} {r['model']:10} {r['precision']:11} {r['batch']:>5} {r['median_ms']:>9.3f} "
              f"{r['p90_ms']:>9.3f} {r['images_per_s']:>8.0f} {r['gops']:>7.1f}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.precision", description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--scale", type=float, default=1.0, help="multiply the repetition counts")
    p.add_argument("--data-dir", default=None, help="MNIST dir (calibration and accuracy of the basis variant)")
    p.add_argument("--no-basis", action="store_true", help="skip the FasterKAN quantized-basis variant")
    p.add_argument("--out", default="reports/precision.json")
    args = p.parse_args(argv)
    result = measure(args.model_repository, args.threads, args.scale, args.data_dir, not args.no_basis)
    print_table(result)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
