"""bench.time_to_accuracy end to end on a tiny real grid: `run` trains real (tiny) runs in the declared order and
resumes, `report` picks recipes on validation accuracy and writes JSON, Markdown and plot from those runs."""
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from bench.time_to_accuracy import main, run_dir
from bench.time_to_accuracy_report import TARGET, pick, spread, spread_reached, time_to_target
from tests.conftest import REPO_ROOT

TINY = ["--models", "fasterkan,mlp", "--lrs", "4e-3", "--epochs", "1", "--seeds", "0,1", "--train-subset", "256",
        "--test-subset", "200", "--val-holdout", "200", "--max-steps", "2", "--threads", "1"]
ORDER = [("fasterkan", 0), ("mlp", 0), ("fasterkan", 1), ("mlp", 1)]  # whole seeds first


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.time_to_accuracy", *args], capture_output=True, text=True,
                          check=False, cwd=REPO_ROOT, timeout=600)


def metrics(out: Path, model: str, seed: int) -> list[dict]:
    text = (run_dir(out, model, 4e-3, 1, seed) / "metrics.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def study(data_dir, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("study")
    proc = run_cli("run", "--data-dir", str(data_dir), "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def test_run_trains_the_grid_in_order_with_a_holdout(study):
    out, log = study
    started = [line.split("] ", 1)[1] for line in log.splitlines() if line.startswith("[")]
    assert started == [str(run_dir(out, m, 4e-3, 1, s)) for m, s in ORDER]
    for model, seed in ORDER:
        (m,) = metrics(out, model, seed)
        assert m["steps"] == 2 and m["n_val"] == 200 and m["n_test"] == 200 and 0 <= m["val_accuracy"] <= 1
        assert (run_dir(out, model, 4e-3, 1, seed) / "done.json").exists()


def test_run_skips_finished_runs_resumes_unfinished_and_refuses_another_config(study, data_dir):
    out, _ = study
    before = {(m, s): metrics(out, m, s) for m, s in ORDER}
    (run_dir(out, "mlp", 4e-3, 1, 0) / "done.json").unlink()  # as if killed after its last epoch was saved
    proc = run_cli("run", "--data-dir", str(data_dir), "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("finished, skipped") == 3 and (run_dir(out, "mlp", 4e-3, 1, 0) / "done.json").exists()
    assert {(m, s): metrics(out, m, s) for m, s in ORDER} == before  # nothing retrained

    other = [a if a != "200" else "100" for a in TINY]  # --test-subset and --val-holdout 100: another config
    (run_dir(out, "fasterkan", 4e-3, 1, 0) / "done.json").unlink()
    proc = run_cli("run", "--data-dir", str(data_dir), "--out", str(out), *other)
    assert proc.returncode != 0 and "different config" in proc.stderr
    assert run_cli("run", "--data-dir", str(data_dir), "--out", str(out), *TINY).returncode == 0


def test_report_from_the_real_runs(study, tmp_path):
    out, _ = study
    main(["report", "--out", str(out), "--reports", str(tmp_path)])
    result = json.loads((tmp_path / "time_to_accuracy.json").read_text())
    speed = json.loads((REPO_ROOT / "reports" / "train_speed.json").read_text())
    for model in ("fasterkan", "mlp"):
        picked = result["picked"][model]
        finals = [metrics(out, model, s)[-1] for s in (0, 1)]
        assert (picked["lr"], picked["epochs"], picked["seeds"]) == (4e-3, 1, [0, 1])
        assert picked["test"]["median"] == statistics.median(f["test_accuracy"] for f in finals)
        assert picked["val"]["median"] == statistics.median(f["val_accuracy"] for f in finals)
        assert picked["time_s"] == pytest.approx(2 * speed[model]["median_step_s"])
        runs = [r for r in result["runs"] if r["model"] == model]
        assert [r["raw_train_seconds"] for r in runs] == [f["seconds"] for f in finals]
        assert all(r["status"] == "finished" and r["finished_on"]["cpu"] for r in runs)
    assert result["where"] and len(result["equal_time"]) >= 1
    md = (tmp_path / "time_to_accuracy.md").read_text()
    for text in (result["rule"], "## Full grid", "8 epochs was dropped", "--lrs 0.004 --epochs 1 --seeds 0,1",
                 "| fasterkan | LR 0.004, 1 ep | 2 |", "| mlp | LR 0.004, 1 ep | 2 |", "time_to_accuracy.png"):
        assert text in md
    assert (tmp_path / "time_to_accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    every_run = md.split("## Every finished run")[1].split("##")[0]
    for model in ("fasterkan", "mlp"):
        for seed in (0, 1):
            assert f"| {model} | 0.004 | 1 | {seed} | {100 * metrics(out, model, seed)[-1]['val_accuracy']:.2f} %" \
                in every_run


def recipe(lr: float, epochs: int, val: list[float]) -> dict:
    return {"lr": lr, "epochs": epochs, "val": spread(val)}


def test_pick_rule_fewest_epochs_reaching_target_then_best_validation():
    above = [recipe(2e-3, 5, [0.997, 0.998, 0.997]), recipe(4e-3, 3, [0.995, 0.996, 0.995]),
             recipe(8e-3, 3, [0.996, 0.996, 0.990])]
    assert (pick(above)["lr"], pick(above)["epochs"]) == (8e-3, 3)  # 3 epochs; median 99.6 beats 99.5
    below = [recipe(2e-3, 3, [0.990, 0.991]), recipe(4e-3, 5, [0.994, 0.993]), recipe(8e-3, 3, [0.992, 0.992])]
    assert (pick(below)["lr"], pick(below)["epochs"]) == (4e-3, 5)  # none reaches: highest median validation
    assert pick([recipe(2e-3, 3, [])]) is None


def test_time_to_target_counts_not_reached_honestly():
    def run(accs):
        return {"seed": 0, "per_epoch": [{"epoch": i + 1, "test_accuracy": a, "time_s": 10.0 * (i + 1),
                                          "raw_seconds": 30.0 * (i + 1)} for i, a in enumerate(accs)]}
    assert time_to_target(run([0.99, TARGET, 0.999]))["epoch"] == 2
    assert time_to_target(run([0.99, 0.994]))["time_s"] is None
    s = spread_reached([2, None, None])
    assert s["median"] is None and s["min"] == 2 and s["max"] is None and s["reached"] == 1
    assert spread_reached([3, 2, None])["median"] == 3
