"""Training and evaluation: AdamW + one-cycle, light random affine, self-describing resumable checkpoints.

Each epoch reseeds torch from (seed, epoch), so the shuffle, augmentation and dropout of epoch e are the
same whether the run went straight through or resumed from the checkpoint of epoch e-1.
A validation hold-out (the last `val_holdout` of the 60,000 training images, never trained on) lets recipes be
chosen without looking at the test set.
"""
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from models.data import data_checksum, load_mnist
from models.recipes import FALLBACK
from models.registry import create_model


@dataclass
class TrainConfig:
    model: str
    data_dir: str | None = None
    out: str = "runs/model"
    epochs: int = FALLBACK["epochs"]  # `kanserve train` fills epochs and lr from models.recipes.RECIPES
    batch_size: int = 128
    lr: float = FALLBACK["lr"]
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    augment: bool = True
    max_rotate_deg: float = 10.0
    max_scale: float = 0.1
    max_translate: float = 0.1  # fraction of half the image side (0.1 ≈ 1.4 px)
    val_holdout: int = 0  # the last N training images: never trained on, scored each epoch as val_accuracy
    train_subset: int | None = None  # first N of the training images left after the hold-out (smoke tests)
    test_subset: int | None = None
    max_steps_per_epoch: int | None = None
    model_args: dict = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [0, 1] (the model contract)."""
    return torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]


def random_affine(x: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Small random rotation, scale and translation per image, zero (black) fill."""
    n = x.shape[0]
    angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(cfg.max_rotate_deg)
    scale = 1 + (torch.rand(n, device=x.device) * 2 - 1) * cfg.max_scale
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * cfg.max_translate
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000,
             progress: bool = False) -> float:
    """Top-1 accuracy of `model` in eval mode on float images [N, 1, 28, 28]."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    with tqdm(total=len(images), desc="evaluate", unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for i in range(0, len(images), batch_size):
            logits = model(images[i : i + batch_size].to(device))
            correct += (logits.argmax(1).cpu() == labels[i : i + batch_size]).sum().item()
            bar.update(len(logits))
    return correct / len(images)


def split_holdout(images: np.ndarray, labels: np.ndarray, holdout: int) -> tuple[tuple, tuple]:
    """((train images, labels), (val images, labels)): the last `holdout` examples are the validation set."""
    if not 0 <= holdout < len(images):
        raise ValueError(f"val_holdout must be in [0, {len(images)}), got {holdout}")
    cut = len(images) - holdout
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the exact model a checkpoint describes (name + args) and load its weights."""
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = create_model(ckpt["model_name"], **ckpt["model_args"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def _checkpoint(model, cfg, metrics, epoch, optimizer=None, scheduler=None) -> dict:
    ckpt = {"model_name": cfg.model, "model_args": cfg.model_args, "state_dict": model.state_dict(),
            "train_config": asdict(cfg), "metrics": metrics, "epoch": epoch}
    if optimizer is not None:
        ckpt.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict())
    return ckpt


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    """Train `cfg.model`; write metrics.jsonl, last.pt (resumable), best.pt and final.pt (weights only)."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    (train_x, train_y), (val_x, val_y) = split_holdout(*load_mnist("train", cfg.data_dir), cfg.val_holdout)
    test_x, test_y = load_mnist("test", cfg.data_dir)
    train_x, train_y = to_tensor(train_x[: cfg.train_subset]), torch.tensor(train_y[: cfg.train_subset]).long()
    val_x, val_y = to_tensor(val_x), torch.tensor(val_y).long()
    test_x, test_y = to_tensor(test_x[: cfg.test_subset]), torch.tensor(test_y[: cfg.test_subset]).long()
    steps = math.ceil(len(train_x) / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, **cfg.model_args).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps)
    start, best = 0, 0.0
    if resume and (out / "last.pt").exists():
        ckpt = torch.load(out / "last.pt", map_location=device, weights_only=False)
        model.load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start, best = ckpt["epoch"] + 1, ckpt["metrics"]["best_test_accuracy"]
    _rewind_metrics(out / "metrics.jsonl", start)

    checksum = data_checksum(cfg.data_dir)
    metrics = {}
    for epoch in range(start, cfg.epochs):
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        stats = _train_epoch(model, optimizer, scheduler, train_x, train_y, steps, device, cfg, epoch)
        acc = evaluate(model, test_x, test_y)
        val_acc = evaluate(model, val_x, val_y) if len(val_x) else None
        best = max(best, acc)
        metrics = {"epoch": epoch + 1, **stats, "val_accuracy": val_acc, "n_val": len(val_x), "test_accuracy": acc,
                   "best_test_accuracy": best, "n_test": len(test_x), "hardware": hardware(),
                   "device": device.type, "data_sha256": checksum}
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(metrics) + "\n")
        print(f"epoch {epoch + 1}/{cfg.epochs} loss={stats['train_loss']:.4f} test_accuracy={acc:.4f} "
              f"seconds={stats['seconds']:.1f}", flush=True)
        _save(_checkpoint(model, cfg, metrics, epoch, optimizer, scheduler), out / "last.pt")
        if acc >= best:
            _save(_checkpoint(model, cfg, metrics, epoch), out / "best.pt")
    if metrics or not (out / "final.pt").exists():
        _save(_checkpoint(model, cfg, metrics, cfg.epochs - 1), out / "final.pt")
    return metrics


def _rewind_metrics(path: Path, start: int) -> None:
    """Keep only the metrics of epochs before `start`: a run killed between writing an epoch's metrics and its
    checkpoint redoes that epoch on resume, and must not record it twice."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["epoch"] <= start]
    path.write_text("".join(ln + "\n" for ln in lines))


def _train_epoch(model, optimizer, scheduler, x, y, steps, device, cfg, epoch) -> dict:
    model.train()
    perm = torch.randperm(len(x))
    total_loss, correct, seen, t0, cpu0 = 0.0, 0, 0, time.perf_counter(), time.process_time()
    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", mininterval=5, dynamic_ncols=True)
    for step in bar:
        idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        xb, yb = x[idx].to(device), y[idx].to(device)
        if cfg.augment:
            xb = random_affine(xb, cfg)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.item() * len(yb)
        correct += (logits.argmax(1) == yb).sum().item()
        seen += len(yb)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}",
                        img_s=f"{seen / (time.perf_counter() - t0):.0f}")
    seconds = time.perf_counter() - t0
    # CPU seconds (all threads) beside wall seconds: a paused or crowded run shows wall >> cpu / threads.
    return {"train_loss": total_loss / seen, "train_accuracy": correct / seen, "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu0,
            "images_per_second": seen / seconds, "steps": steps}
