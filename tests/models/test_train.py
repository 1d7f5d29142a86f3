"""Training on a tiny real subset: the loss falls, resume continues exactly, checkpoints describe themselves, and
the validation hold-out is the last N training images, never trained on."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import models.train
from models.data import load_mnist
from models.train import TrainConfig, evaluate, load_checkpoint, split_holdout, to_tensor, train

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


def interrupt():
    raise KeyboardInterrupt


def crash_in_second_epoch(monkeypatch, where: str) -> None:
    """Interrupt epoch 2 either inside training or after its metrics line is written but before last.pt is."""
    if where == "training":
        real = models.train._train_epoch
        monkeypatch.setattr(models.train, "_train_epoch",
                            lambda *a: interrupt() if a[-1] == 1 else real(*a))
    else:
        real = models.train._save
        monkeypatch.setattr(models.train, "_save", lambda obj, path: interrupt()
                            if path.name == "last.pt" and obj["epoch"] == 1 else real(obj, path))


@pytest.mark.parametrize("where", ["training", "checkpoint"])
def test_resume_continues_exactly(data_dir, tmp_path, monkeypatch, where):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    tiny = {**TINY, "val_holdout": 300}
    train(TrainConfig(data_dir=str(data_dir), out=str(straight), epochs=2, **tiny))

    cfg = TrainConfig(data_dir=str(data_dir), out=str(resumed), epochs=2, **tiny)
    with monkeypatch.context() as m:
        crash_in_second_epoch(m, where)
        with pytest.raises(KeyboardInterrupt):
            train(cfg)
    assert torch.load(resumed / "last.pt", weights_only=False)["epoch"] == 0
    assert len(read_metrics(resumed)) == (1 if where == "training" else 2)
    train(cfg, resume=True)

    a = torch.load(straight / "final.pt", weights_only=False)["state_dict"]
    b = torch.load(resumed / "final.pt", weights_only=False)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    keys = ("epoch", "train_loss", "val_accuracy", "test_accuracy")
    def rows(out):
        return [[m[k] for k in keys] for m in read_metrics(out)]

    assert rows(straight) == rows(resumed)


def test_split_holdout_is_the_last_n_without_overlap(data_dir):
    images, labels = load_mnist("train", data_dir)
    (train_x, train_y), (val_x, val_y) = split_holdout(images, labels, 5000)
    assert len(train_x) == 55_000 and len(val_x) == 5000
    assert np.array_equal(val_x, images[-5000:]) and np.array_equal(val_y, labels[-5000:])
    assert np.array_equal(train_x, images[:55_000]) and np.array_equal(train_y, labels[:55_000])
    assert not set(map(bytes, val_x)) & set(map(bytes, train_x[:2000]))  # spot check by content too
    with pytest.raises(ValueError, match="val_holdout"):
        split_holdout(images, labels, 60_000)


def test_holdout_is_never_trained_on_and_scored_each_epoch(data_dir, tmp_path, monkeypatch):
    seen = []
    real = models.train._train_epoch
    monkeypatch.setattr(models.train, "_train_epoch", lambda m, o, s, x, *a: seen.append(x) or real(m, o, s, x, *a))
    cfg = TrainConfig(data_dir=str(data_dir), out=str(tmp_path), epochs=2, val_holdout=700, max_steps_per_epoch=2,
                      **{k: v for k, v in TINY.items() if k != "train_subset"})
    train(cfg)
    images, labels = load_mnist("train", data_dir)
    assert len(seen) == 2 and all(torch.equal(x, to_tensor(images[:-700])) for x in seen)
    metrics = read_metrics(tmp_path)
    assert [m["n_val"] for m in metrics] == [700, 700] and all(0 <= m["val_accuracy"] <= 1 for m in metrics)
    model, _ = load_checkpoint(tmp_path / "final.pt")
    assert metrics[-1]["val_accuracy"] == evaluate(model, to_tensor(images[-700:]), torch.tensor(labels[-700:]).long())


def test_evaluate_command_prints_accuracy(data_dir, tmp_path):
    train(TrainConfig(data_dir=str(data_dir), out=str(tmp_path), epochs=1, **TINY))
    cmd = [sys.executable, "-m", "kanserve.cli", "evaluate", "--checkpoint", str(tmp_path / "final.pt"),
           "--data-dir", str(data_dir)]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert text.startswith("accuracy=0.") and text.strip().endswith("n=10000")
    result = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True).stdout)
    assert result["n"] == 10000 and 0.15 < result["accuracy"] <= 1  # above chance after 16 steps
