"""Training speed of the report's two models, side by side: the same optimizer steps on the same machine.

Each model does `--steps` AdamW steps on real MNIST batches (with the training augmentation), interleaved in
rounds so drift hits both; seconds per epoch = median seconds per step × steps per epoch (60,000 / batch).
Run: python -m bench.train_speed [--steps 40] [--json reports/train_speed.json]
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

from bench.timing import write_json
from models.data import load_mnist
from models.registry import create_model
from models.train import TrainConfig, hardware, random_affine, to_tensor

MODELS = ("mlp", "fasterkan")


def step_times(model, optimizer, batches, cfg) -> list[float]:
    out = []
    for xb, yb in batches:
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(random_affine(xb, cfg)), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        out.append(time.perf_counter() - t0)
    return out


def measure(steps: int, batch_size: int, rounds: int, data_dir: str | None) -> dict:
    torch.manual_seed(0)
    images, labels = load_mnist("train", data_dir)
    x, y = to_tensor(images[: steps * batch_size]), torch.tensor(labels[: steps * batch_size]).long()
    batches = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    cfg = TrainConfig(model="", batch_size=batch_size)
    runs = {}
    for name in MODELS:
        model = create_model(name).train()
        runs[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-3), [])
        step_times(model, runs[name][1], batches[:2], cfg)  # warm-up
    per_round = math.ceil(len(batches) / rounds)
    for r in range(rounds):
        for name in MODELS if r % 2 == 0 else reversed(MODELS):
            model, opt, times = runs[name]
            times += step_times(model, opt, batches[r * per_round : (r + 1) * per_round], cfg)
    steps_per_epoch = math.ceil(60_000 / batch_size)
    result = {name: {"steps": len(t), "median_step_s": statistics.median(t),
                     "seconds_per_epoch": statistics.median(t) * steps_per_epoch, "step_times_s": t}
              for name, (_, _, t) in runs.items()}
    result["ratio_fasterkan_to_mlp"] = result["fasterkan"]["seconds_per_epoch"] / result["mlp"]["seconds_per_epoch"]
    result.update(batch_size=batch_size, steps_per_epoch=steps_per_epoch, hardware=hardware(),
                  torch=torch.__version__)
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", default="reports/train_speed.json")
    args = p.parse_args(argv)
    result = measure(args.steps, args.batch_size, args.rounds, args.data_dir)
    print(f"{'model':<10} {'steps':>6} {'s/step':>8} {'s/epoch':>9}   ({result['hardware']}, batch {args.batch_size})")
    for name in MODELS:
        r = result[name]
        print(f"{name:<10} {r['steps']:>6} {r['median_step_s']:>8.3f} {r['seconds_per_epoch']:>9.1f}")
    print(f"fasterkan / mlp time per epoch: {result['ratio_fasterkan_to_mlp']:.3f}")
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
