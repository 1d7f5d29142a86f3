"""bench.render / bench.report: BENCHMARKS.md from the JSON of a real `kanserve bench --quick` run (fixtures), its
numbers and directions taken from the JSON; plus tiny live calls of the measuring helpers. No timing assertions."""
import json
import shutil
from pathlib import Path

import pytest

from bench.render import render, serving_targets
from tests.conftest import REPO_ROOT

FIXTURES = Path(__file__).parent / "fixtures"
SECTIONS = ["# Benchmarks", "## Answers", "## 1. The report's experiment table", "## 2. The KAN family",
            "### The published speed claims", "## 3. torch eager vs onnxruntime", "## 4. The service", "## 5. GPU",
            "## Reproduce"]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "bench_quick", tmp_path / "reports")
    return tmp_path / "reports"


def read(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text())


def write(out: Path, name: str, obj: dict) -> None:
    (out / name).write_text(json.dumps(obj))


def test_every_section_and_the_hardware(out: Path):
    md = render(out, out.parent / "BENCHMARKS.md")
    for heading in SECTIONS:
        assert heading in md
    machine = read(out, "bench.json")["machine"]
    assert machine["cpu"] in md and f"onnxruntime {machine['onnxruntime']}" in md and f"torch {machine['torch']}" in md
    assert "Quick mode" in md
    assert "Whole training runs**: pending" in md
    assert "Not measured: no GPU on the benchmark machine" in md


def test_numbers_come_from_the_json(out: Path):
    md = render(out, out.parent / "BENCHMARKS.md")
    ml = read(out, "model_latency.json")
    row = next(r for r in ml["rows"] if (r["model"], r["backend"], r["batch"]) == ("mlp", "onnxruntime", 1))
    assert f"{row['median_ms']:.3f} ({row['p90_ms']:.3f})" in md
    assert f"onnxruntime MatMul **{ml['gemm']['onnxruntime']['gflops']:.1f} GFLOP/s**" in md
    sv = read(out, "serving.json")
    assert f"{sv['models']['mlp']['raw_bs1']['p50_ms']:.3f}" in md
    ratio = read(out, "family.json")["settings"]["layer_100_100_b8"]["ratios"]["fasterkan_vs_fastkan"]
    assert f"{ratio:.2f}×" in md
    share = read(out, "lowering.json")["results"]["fasterkan L1 ln+basis (kanserve)"]["share_of_parts_median"]
    assert f"{100 * share:.0f} %" in md
    for t in serving_targets(sv).values():
        assert f"c=1 p50 = {t['c1_ratio']:.2f}× the minimal FastAPI endpoint's" in md


def test_direction_follows_the_numbers(out: Path):
    ts = read(out, "train_speed.json")
    ts["mlp"]["step_times_s"], ts["fasterkan"]["step_times_s"] = [1.0, 1.1, 0.9], [3.0, 3.3, 2.7]
    ts["mlp"]["seconds_per_epoch"], ts["fasterkan"]["seconds_per_epoch"] = 469.0, 1407.0
    write(out, "train_speed.json", ts)
    md = render(out, out.parent / "BENCHMARKS.md")
    assert "Faster to train (per epoch)**: MLP, 3.00×" in md
    assert "**reproduces** in direction" in md
    ts["mlp"]["step_times_s"], ts["fasterkan"]["step_times_s"] = [3.0, 3.3, 2.7], [1.0, 1.1, 0.9]
    write(out, "train_speed.json", ts)
    md = render(out, out.parent / "BENCHMARKS.md")
    assert "Faster to train (per epoch)**: FasterKAN, 3.00×" in md and "**does not reproduce**" in md


def test_training_json_and_gpu_json_are_shown(out: Path):
    training = {"models": {n: {"test_accuracy": acc, "epochs": ep, "seconds_per_epoch_median": spe,
                               "parameters_torchsummary": 1, "hardware": "test-cpu"}
                           for n, acc, ep, spe in (("mlp", 0.9951, 2, 750.0), ("fasterkan", 0.9937, 4, 204.0))}}
    write(out, "training.json", training)
    shutil.copy(REPO_ROOT / "tests" / "deploy" / "fixtures" / "gpu_smoke.json", out / "gpu.json")
    md = render(out, out.parent / "BENCHMARKS.md")
    assert "pending" not in md
    assert "99.51" in md and "99.37" in md and "test-cpu" in md
    assert "FasterKAN finished 1.84× sooner" in md  # 2 × 750 s vs 4 × 204 s
    assert "written by bench/gpu.sh" in md and "no GPU on the benchmark machine" not in md


def test_missing_json_reads_not_measured(tmp_path: Path):
    md = render(tmp_path, tmp_path / "BENCHMARKS.md")
    for heading in (h for h in SECTIONS if h.startswith("## ")):
        assert heading in md
    assert md.count("Not measured in this run.") >= 3


def test_live_helpers_tiny():
    from bench.family import measure_setting
    from bench.model_latency import count_macs, gemm_onnx
    from bench.timing import round_robin
    from kanserve.cli import build_parser
    from models.registry import create_model

    rows = measure_setting("layer_100_100_b8", runs=2, warmup=1, device="cpu")
    assert set(rows) == {"bspline_recursion", "bspline_closed", "fastkan", "fasterkan", "mlp"}
    assert rows["mlp"]["parameters"] == 100 * 100 + 100 and rows["fasterkan"]["n"] == 2
    assert count_macs(create_model("flat_mlp"))["total"] == 784 * 2048 + 2048 * 10
    assert gemm_onnx()
    times = round_robin({"a": lambda: None, "b": lambda: None}, {"a": 3, "b": 1}, warmup=0)
    assert (len(times["a"]), len(times["b"])) == (3, 1)
    args = build_parser().parse_args(["bench", "--quick", "--out", "x", "--render-only"])
    assert args.quick and args.render_only and args.func.__name__ == "cmd_bench"


def test_skipped_sections_name_the_run_that_made_them(tmp_path: Path):
    from bench.report import reused_sections

    first = {"started": "day 1", "machine": {"git_commit": "aaa"}, "durations_s": {"serving": 1.0, "probe": 1.0}}
    (tmp_path / "bench.json").write_text(json.dumps(first))
    assert reused_sections(tmp_path / "bench.json", set()) == {}
    second = {"started": "day 2", "machine": {"git_commit": "bbb"}, "durations_s": {"probe": 1.0},
              "reused": reused_sections(tmp_path / "bench.json", {"serving"})}
    assert second["reused"] == {"serving": {"started": "day 1", "git_commit": "aaa"}}
    (tmp_path / "bench.json").write_text(json.dumps(second))
    third = reused_sections(tmp_path / "bench.json", {"serving", "probe", "family"})  # family: never measured
    assert third == {"serving": {"started": "day 1", "git_commit": "aaa"},
                     "probe": {"started": "day 2", "git_commit": "bbb"}}


def test_study_section_shows_the_picked_recipes_or_says_not_measured(out: Path):
    assert "Not measured: no `reports/time_to_accuracy.json`" in render(out, out.parent / "BENCHMARKS.md")
    shutil.copy(REPO_ROOT / "reports" / "time_to_accuracy.json", out)
    md = render(out, out.parent / "BENCHMARKS.md")
    study = read(out, "time_to_accuracy.json")
    assert f"{study['status']['finished']} runs finished" in md and "Issue 16's target" in md
    for model in study["picked"]:
        assert f"| {model} | " in md
