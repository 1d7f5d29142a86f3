"""Training on a tiny real subset: the loss falls, resume continues exactly, checkpoints describe themselves."""
import json
import subprocess
import sys

import pytest
import torch

import models.train
from models.train import TrainConfig, load_checkpoint, train

TINY = {"model": "flat_fasterkan", "train_subset": 1024, "test_subset": 500, "batch_size": 64, "lr": 3e-3}


def read_metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_loss_falls_and_checkpoints_describe_model(data_dir, tmp_path):
    cfg = TrainConfig(data_dir=str(data_dir), out=str(tmp_path), epochs=3, **TINY)
    train(cfg)
    metrics = read_metrics(tmp_path)
    assert metrics[-1]["train_loss"] < 0.7 * metrics[0]["train_loss"]
    assert metrics[-1]["test_accuracy"] > 0.6
    _model, ckpt = load_checkpoint(tmp_path / "final.pt")
    assert ckpt["model_name"] == "flat_fasterkan" and ckpt["train_config"]["epochs"] == 3
    assert "optimizer" not in ckpt and ckpt["metrics"]["n_test"] == 500
    assert {"optimizer", "scheduler"} <= set(torch.load(tmp_path / "last.pt", weights_only=False))


def test_resume_continues_exactly(data_dir, tmp_path, monkeypatch):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(TrainConfig(data_dir=str(data_dir), out=str(straight), epochs=2, **TINY))

    cfg = TrainConfig(data_dir=str(data_dir), out=str(resumed), epochs=2, **TINY)
    real_epoch = models.train._train_epoch

    def crash_on_second_epoch(*args):
        if args[-1] == 1:
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(models.train, "_train_epoch", crash_on_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    assert torch.load(resumed / "last.pt", weights_only=False)["epoch"] == 0
    monkeypatch.setattr(models.train, "_train_epoch", real_epoch)
    train(cfg, resume=True)

    a = torch.load(straight / "final.pt", weights_only=False)["state_dict"]
    b = torch.load(resumed / "final.pt", weights_only=False)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert [m["train_loss"] for m in read_metrics(straight)] == [m["train_loss"] for m in read_metrics(resumed)]


def test_evaluate_command_prints_accuracy(data_dir, tmp_path):
    train(TrainConfig(data_dir=str(data_dir), out=str(tmp_path), epochs=1, **TINY))
    cmd = [sys.executable, "-m", "kanserve.cli", "evaluate", "--checkpoint", str(tmp_path / "final.pt"),
           "--data-dir", str(data_dir)]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert text.startswith("accuracy=0.") and text.strip().endswith("n=10000")
    result = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert result["n"] == 10000 and 0.15 < result["accuracy"] <= 1  # above chance after 16 steps
