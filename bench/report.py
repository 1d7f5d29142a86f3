"""`kanserve bench`: every benchmark side by side on this machine -> reports/*.json, reports/*.png, BENCHMARKS.md.

Sections (each writes its JSON; bench/render.py turns the JSONs into the markdown, so the text always follows
the numbers): training speed (bench/train_speed.py), the KAN family in torch eager (bench/family.py) and
onnxruntime (bench/lowering.py), torch vs onnxruntime per batch size with the GEMM rate
(bench/model_latency.py), fp32 vs int8 and onnxruntime vs OpenVINO (bench/precision.py), the service
(bench/serving.py) and a short `kanserve probe` run.
Run: python -m bench.report [--quick] [--out reports] [--model-repository model_repository]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.timing import write_json

MODELS = ("mlp", "fasterkan")
FULL = {"train_steps": 40, "train_rounds": 4, "family_net_runs": 60, "family_layer_runs": 1000,
        "lowering_runs": 200, "lowering_warmup": 20, "latency_scale": 1.0, "serving_seconds": 3, "serving_rounds": 3,
        "probe_requests": 200, "precision_scale": 1.0}
QUICK = {"train_steps": 2, "train_rounds": 1, "family_net_runs": 3, "family_layer_runs": 20,
         "lowering_runs": 3, "lowering_warmup": 1, "latency_scale": 0.02, "serving_seconds": 1, "serving_rounds": 1,
         "probe_requests": 10, "precision_scale": 0.02}


def has_models(repo: Path) -> bool:
    return all((repo / n / "1" / "model.onnx").exists() for n in MODELS) and (repo / "index.json").exists()


def untrained_repository(root: Path) -> Path:
    """A contract-format repository with untrained exports of the two models (latency does not depend on weights)."""
    import torch

    from export.graph import IR_VERSION, OPSET
    from export.metadata import build_metadata, config_pbtxt, set_metadata_props
    from export.pipeline import to_onnx
    from kanserve.repository import write_artifact
    from models.registry import create_model

    for name in MODELS:
        torch.manual_seed(0)
        model = create_model(name).eval()
        proto = to_onnx(model)
        meta = build_metadata(name=name, version=1, architecture=name,
                              parameters=sum(p.numel() for p in model.parameters()), metrics={}, precision="fp32",
                              opset=OPSET, ir_version=IR_VERSION, data_sha256=None)
        set_metadata_props(proto, meta)
        write_artifact(root, name, "1", proto.SerializeToString(), meta, config_pbtxt(meta), meta["labels"])
    return root


def run_train_speed(cfg: dict, data_dir: str | None, out: Path) -> None:
    import torch

    from bench.train_speed import measure
    from service.settings import available_cores

    torch.set_num_threads(available_cores())  # training uses every core, as the real runs do
    write_json(out / "train_speed.json", measure(cfg["train_steps"], 128, cfg["train_rounds"], data_dir))


def run_family(cfg: dict, threads: int, out: Path) -> None:
    from bench import family, lowering

    write_json(out / "family.json", family.measure(threads, cfg["family_net_runs"], cfg["family_layer_runs"]))
    lowering.main(["--threads", str(threads), "--runs", str(cfg["lowering_runs"]), "--warmup",
                   str(cfg["lowering_warmup"]), "--out", str(out / "lowering.json")])


def run_latency(cfg: dict, threads: int, repo: Path, source: str, out: Path) -> None:
    from bench import model_latency

    result = model_latency.measure(repo, threads, cfg["latency_scale"])
    result["onnx_source"] = source
    model_latency.print_table(result)
    write_json(out / "model_latency.json", result)


def run_precision(cfg: dict, threads: int, repo: Path, data_dir: str | None, out: Path) -> None:
    """fp32 vs int8 and onnxruntime vs OpenVINO (bench/precision.py); the quantized-basis variant needs MNIST."""
    from bench import precision

    result = precision.measure(repo, threads, cfg["precision_scale"], data_dir)
    precision.print_table(result)
    write_json(out / "precision.json", result)


def run_serving(cfg: dict, repo: Path, out: Path) -> None:
    """In a fresh process without torch, as a server runs: the torch thread pools and allocations of the
    earlier sections once stalled the in-process ASGI measurement (a 260 ms p99 that did not reproduce alone)."""
    import subprocess

    subprocess.run([sys.executable, "-m", "bench.serving", "--model-repository", str(repo), "--seconds",
                    str(cfg["serving_seconds"]), "--rounds", str(cfg["serving_rounds"]), "--out",
                    str(out / "serving.json")], check=True)


def run_probe_section(cfg: dict, repo: Path, data_dir: str | None, out: Path) -> None:
    """A short `kanserve probe` (one client, interleaved models) against a uvicorn server started here."""
    from bench.probe import ProbeConfig, format_table, plot, run_probe
    from bench.serving import free_port, start

    port = free_port()
    proc = start([sys.executable, "-m", "kanserve.cli", "serve", "--model-repository", str(repo), "--port", str(port)],
                 {"KANSERVE_LOG_LEVEL": "warning"}, port)
    try:
        probe_cfg = ProbeConfig(url=f"http://127.0.0.1:{port}", models=list(MODELS), requests=cfg["probe_requests"],
                                input="mnist", data_dir=data_dir, warmup=10)  # or the packaged sample
        report = run_probe(probe_cfg, progress=False)
    finally:
        proc.terminate()
        proc.wait(30)
    print(format_table(report))
    write_json(out / "probe.json", report)
    plot(report, out / "probe_cdf.png")


def run_all(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    from bench.timing import machine_info

    cfg = QUICK if args.quick else FULL
    out = Path(args.out)
    info = {"mode": "quick" if args.quick else "full", "settings": cfg, "machine": machine_info(args.threads),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "durations_s": {}}
    with tempfile.TemporaryDirectory(prefix="kanserve-bench-") as tmp:
        repo = Path(args.model_repository)
        source = f"shipped `{repo}`"
        if not has_models(repo):
            repo, source = untrained_repository(Path(tmp) / "model_repository"), "untrained exports (temp repository)"
        info["model_source"] = source
        sections = [("train_speed", lambda: run_train_speed(cfg, args.data_dir, out)),
                    ("family", lambda: run_family(cfg, args.threads, out)),
                    ("model_latency", lambda: run_latency(cfg, args.threads, repo, source, out)),
                    ("precision", lambda: run_precision(cfg, args.threads, repo, args.data_dir, out)),
                    ("serving", lambda: run_serving(cfg, repo, out)),
                    ("probe", lambda: run_probe_section(cfg, repo, args.data_dir, out))]
        todo = [(name, fn) for name, fn in sections if name not in args.skip]
        with tqdm(todo, desc="bench", unit="section", disable=args.no_progress, dynamic_ncols=True) as bar:
            for name, fn in bar:
                bar.set_postfix_str(name)
                tqdm.write(f"== {name}")
                t0 = time.perf_counter()
                fn()
                info["durations_s"][name] = round(time.perf_counter() - t0, 1)
    info["machine"]["load_avg_end"] = list(os.getloadavg())
    info["reused"] = reused_sections(out / "bench.json", args.skip)
    write_json(out / "bench.json", info)
    return info


def reused_sections(previous: Path, skipped: set[str]) -> dict:
    """Skipped sections keep their JSON from an earlier run: say which run (start time, commit) made each."""
    if not skipped or not previous.exists():
        return {}
    prev = json.loads(previous.read_text())
    made = {name: {"started": prev["started"], "git_commit": prev["machine"]["git_commit"]}
            for name in prev.get("durations_s", {})}
    return {name: made[name] if name in made else prev.get("reused", {}).get(name)
            for name in sorted(skipped) if name in made or name in prev.get("reused", {})}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    bench(args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="tiny repetition counts (smoke run; numbers not meaningful)")
    p.add_argument("--out", default="reports", help="directory for the JSON and PNG files")
    p.add_argument("--model-repository", default="model_repository",
                   help="uses NAME/1/model.onnx of mlp and fasterkan when present, else untrained exports")
    p.add_argument("--markdown", default="BENCHMARKS.md", help="the report rendered from the JSON files")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $KANSERVE_DATA_DIR, then "
                   "~/.cache/kanserve/mnist, downloaded there once)")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads for inference timing (1: the service's split of 2 cores over 2 models, "
                        "and robust to a busy machine)")
    p.add_argument("--skip", default="", help="comma-separated sections to skip (reuse their existing JSON): "
                   "train_speed,family,model_latency,precision,serving,probe")
    p.add_argument("--render-only", action="store_true", help="only rebuild the markdown and plots from the JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar over the sections")


def bench(args: argparse.Namespace) -> None:
    from bench.render import plot_latency_vs_batch, render

    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    t0 = time.perf_counter()
    if not args.render_only:
        run_all(args)
    out = Path(args.out)
    plot_latency_vs_batch(out)
    Path(args.markdown).write_text(render(out, Path(args.markdown)))
    print(f"wrote {args.markdown} and {out}/*.json, *.png in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
