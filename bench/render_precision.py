"""BENCHMARKS.md's precision and runtimes sections and their answers, from reports/precision.json (no measuring).

Ratios come with bootstrap intervals over the per-call times (service.stats.ratio_ci), so "which is faster" and
"did int8 meet its target" are read from the same samples the tables summarise.
"""
from bench.render import table
from service.stats import ratio_ci

MODELS = ("mlp", "fasterkan")
NAMES = {"mlp": "MLP", "fasterkan": "FasterKAN"}
PRECISIONS = ("fp32", "int8", "fp16")
BASIS = "int8+basis"
ANSWER_BATCHES = (1, 64)
TARGET_BATCH = 64
TARGET_GAIN = {"mlp": 2.5, "fasterkan": 1.5}  # int8 / fp32 throughput at batch 64
MAX_DROP_POINTS = 0.2


def _rows(pr: dict) -> dict[tuple[str, str, str, int], dict]:
    return {(r["runtime"], r["model"], r["precision"], r["batch"]): r for r in pr["rows"]}


def _ci(ci: dict) -> str:
    return f"{ci['ratio']:.2f} (95 % CI {ci['ci_low']:.2f}–{ci['ci_high']:.2f})"


def _accuracy(pr: dict, model: str, precision: str) -> float | None:
    return (pr["accuracy"].get(f"{model}|{precision}") or {}).get("test_accuracy")


def _vnni(pr: dict) -> str:
    flags = pr["machine"]["cpu_flags"]
    return "this CPU has VNNI" if {"avx512_vnni", "avx_vnni"} & set(flags) else (
        "this CPU has no VNNI: int8 dot products take vpmaddubsw + vpmaddwd")


def precisions(pr: dict) -> list[str]:
    present = {r["precision"] for r in pr["rows"]}
    return [p for p in (*PRECISIONS, BASIS) if p in present]


def gain(pr: dict, model: str, precision: str, over: str = "fp32", batch: int = TARGET_BATCH) -> dict | None:
    """Throughput of `precision` over `over` (= time ratio over/precision) with its interval, or None."""
    rows = _rows(pr)
    a, b = rows.get(("onnxruntime", model, precision, batch)), rows.get(("onnxruntime", model, over, batch))
    return ratio_ci(a["samples_ms"], b["samples_ms"]) if a and b else None


def which_is_faster(pr: dict, precision: str, batch: int) -> str | None:
    rows = _rows(pr)
    a, b = rows.get(("onnxruntime", "mlp", precision, batch)), rows.get(("onnxruntime", "fasterkan", precision, batch))
    if not (a and b):
        return None
    ci = ratio_ci(a["samples_ms"], b["samples_ms"])  # FasterKAN time / MLP time
    fast, k = ("FasterKAN", 1 / ci["ratio"]) if ci["ratio"] < 1 else ("MLP", ci["ratio"])
    sure = "excludes" if ci["ci_low"] > 1 or ci["ci_high"] < 1 else "includes"
    return (f"batch {batch}: {fast} by {k:.2f}× (FasterKAN/MLP time {_ci(ci)}, the interval {sure} 1; "
            f"{b['median_ms']:.3f} vs {a['median_ms']:.3f} ms)")


def answer_precision(pr: dict | None) -> list[str]:
    if pr is None:
        return ["- **Which is faster, per precision**: not measured in this run."]
    lines = []
    for p in precisions(pr):
        if p == BASIS:
            continue
        parts = [t for b in ANSWER_BATCHES if (t := which_is_faster(pr, p, b))]
        if parts:
            lines.append(f"- **Which is faster at {p}** (onnxruntime, {pr['threads']} thread(s)): "
                         + "; ".join(parts) + ".")
    for n in MODELS:
        g, acc32, acc8 = gain(pr, n, "int8"), _accuracy(pr, n, "fp32"), _accuracy(pr, n, "int8")
        if g is None or acc32 is None or acc8 is None:
            continue
        drop = 100 * (acc32 - acc8)
        ok = g["ratio"] >= TARGET_GAIN[n] and drop <= MAX_DROP_POINTS
        lines.append(f"- **int8 target** ({NAMES[n]}): int8/fp32 throughput at batch {TARGET_BATCH} {_ci(g)} (target ≥ "
                     f"{TARGET_GAIN[n]}, {_vnni(pr)}), accuracy {100 * acc8:.2f} % vs {100 * acc32:.2f} % "
                     f"({drop:+.2f} points "
                     f"lost, limit {MAX_DROP_POINTS}) **{'PASS' if ok else 'FAIL'}**.")
    basis = gain(pr, "fasterkan", BASIS, over="int8")
    if basis is not None:
        lines.append(f"- **Quantizing the FasterKAN basis too** (LayerNorm, Sub, Tanh in QDQ; not shipped): "
                     f"throughput {_ci(basis)} of the shipped int8 model's at batch {TARGET_BATCH}, accuracy "
                     f"{100 * _accuracy(pr, 'fasterkan', BASIS):.2f} %.")
    return lines


def section_precision(pr: dict | None) -> list[str]:
    lines = ["## 6. Precision: fp32 vs int8 on this CPU", ""]
    if pr is None:
        return [*lines, "Not measured in this run.", ""]
    g, m = pr["gemm"], pr["machine"]
    lines += [(f"Measured on {m['cpu']} ({', '.join(m['cpu_flags']) or 'no AVX2 flags found'}; {_vnni(pr)}), "
               f"{m['available_cores']} cores, load average {m['load_avg_start'][0]:.2f} at start, onnxruntime "
               f"{m['onnxruntime']}, OpenVINO {m['openvino'] or 'absent'}, git {m['git_commit']}."
               + (" **The machine was busy: these timings include contention; their intervals say how much.**"
                  if m["load_avg_start"][0] > 0.5 * m["available_cores"] else "")), "",
              (f"bench/precision.py: the shipped versions (1 = fp32, 2 = int8: static QDQ, int8 per-channel 7-bit "
               "weights, uint8 activations, calibrated on 512 training images) in onnxruntime, "
               f"{pr['threads']} intra-op thread(s), every row round-robin with every other. Accuracy: the artifact's "
               "metadata.json, measured by `kanserve export` on the 10,000 test images. GOP/s = 2·MACs·batch / "
               "median time (conv + linear MACs; the KAN bases' elementwise work is not counted)."), "",
              (f"GEMM rates measured in the same run ({g['n']}×{g['n']}, {pr['threads']} thread(s)): float32 MatMul "
               f"**{g['fp32']['gops']:.1f} GFLOP/s**, uint8×int8 MatMulInteger **{g['int8']['gops']:.1f} GOP/s** "
               f"({g['int8']['gops'] / g['fp32']['gops']:.2f}× fp32: the most int8 can gain where the work is GEMM). "
               "Above 100 % means the convolutions ran faster than the square GEMM call did in this run."), ""]
    rows, table_rows = _rows(pr), []
    for n in MODELS:
        for p in precisions(pr):
            ceiling = g["int8" if p.startswith("int8") else "fp32"]["gops"]
            acc = _accuracy(pr, n, p)
            for b in sorted({r["batch"] for r in pr["rows"]}):
                r = rows.get(("onnxruntime", n, p, b))
                if r:
                    table_rows.append([NAMES[n], p, f"{100 * acc:.2f} %" if acc is not None else "—", b, r["n"],
                                       f"{r['median_ms']:.3f} / {r['p90_ms']:.3f}", f"{r['images_per_s']:.0f}",
                                       f"{r['gops']:.1f} ({100 * r['gops'] / ceiling:.0f} %)"])
    lines += table(["model", "precision", "accuracy", "batch", "n", "p50 / p90 ms", "images/s",
                     "GOP/s (% of its GEMM rate)"], table_rows)
    lines += ["", "int8 / fp32 throughput by batch: " + ", ".join(
        f"{NAMES[n]} batch {b}: {gn['ratio']:.2f}×" for n in MODELS for b in sorted({r['batch'] for r in pr['rows']})
        if (gn := gain(pr, n, "int8", batch=b))) + "."]
    if not any(r["precision"] == "fp16" for r in pr["rows"]):
        lines += ["",
                  "fp16: not shipped (the fp16 export is for GPUs; onnxruntime's CPU provider has few fp16 kernels)."]
    return [*lines, ""]


def section_runtimes(pr: dict | None) -> list[str]:
    lines = ["## 7. Runtimes: onnxruntime vs OpenVINO", ""]
    if pr is None:
        return [*lines, "Not measured in this run.", ""]
    rows = _rows(pr)
    runtimes = sorted({r["runtime"] for r in pr["rows"]}, key=lambda r: (r != "onnxruntime", r))
    lines += [(f"The same shipped files in each runtime's CPU path, {pr['threads']} thread(s), round-robin with "
               "section 6 (OpenVINO: `INFERENCE_PRECISION_HINT` f32 or bf16, latency hint). Median ms per batch "
               "(× onnxruntime's time)."), ""]
    table_rows = []
    for n in MODELS:
        for p in [p for p in precisions(pr) if p != BASIS]:
            for b in sorted({r["batch"] for r in pr["rows"] if r["runtime"] != "onnxruntime"}):
                base = rows.get(("onnxruntime", n, p, b))
                cells = [NAMES[n], p, b]
                for rt in runtimes:
                    r = rows.get((rt, n, p, b))
                    cells.append("—" if not r else f"{r['median_ms']:.3f}" if rt == "onnxruntime"
                                 else f"{r['median_ms']:.3f} ({r['median_ms'] / base['median_ms']:.2f}×)")
                table_rows.append(cells)
    lines += table(["model", "precision", "batch", *runtimes], table_rows)
    for rt, why in pr["absent"].items():
        lines += ["", f"{rt}: not measured — {why}."]
    return [*lines, ""]
