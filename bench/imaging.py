"""Photos of digits: decode latency (1 MP and 12 MP JPEG) and accuracy per corruption type, old vs new decoder.

The corpus is tests/service/photos.py (phone-photo-like renders of MNIST test digits, one corruption type each);
the old decoder is bench/imaging_baseline.py (service/imaging.py before issue 11), the new one service.imaging.
Both shipped models (model_repository/NAME/1/model.onnx) classify what each decoder produced, on onnxruntime.
A render the decoder rejects counts as wrong. Timings are one call per decoder per round (round-robin).
Run from the repository root: python -m bench.imaging [--seed 7] [--n 2000] [--out reports/photos.json]
"""
import argparse
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench import imaging_baseline
from bench.timing import round_robin, write_json
from models.data import load_mnist
from service import imaging
from service.stats import latency_summary
from tests.service.photos import KINDS, corpus, render

MODELS = ("mlp", "fasterkan")
DECODERS: dict[str, Callable[[bytes], np.ndarray]] = {"old": imaging_baseline.decode_image,
                                                      "new": imaging.decode_image}
PHOTOS = {"1mp": (866, 1155), "12mp": (3000, 4000)}  # (height, width)


def sessions(repository: Path) -> dict[str, ort.InferenceSession]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return {m: ort.InferenceSession(str(repository / m / "1" / "model.onnx"), opts, providers=["CPUExecutionProvider"])
            for m in MODELS}


def decode_all(decode: Callable[[bytes], np.ndarray], blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """[N, 1, 28, 28] inputs (zeros where rejected) and a bool [N] of which decoded."""
    out, ok = np.zeros((len(blobs), 1, 28, 28), np.float32), np.zeros(len(blobs), bool)
    for i, blob in enumerate(blobs):
        with contextlib.suppress(imaging.ImageError):  # a rejected picture counts as wrong
            out[i, 0], ok[i] = decode(blob), True
    return out, ok


def predict(session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    return np.concatenate([session.run(["logits"], {"images": x[i:i + 256]})[0].argmax(1)
                           for i in range(0, len(x), 256)])


def accuracy(models: dict[str, ort.InferenceSession], renders: list, decode: Callable) -> dict:
    """{model: {kind: accuracy, ..., "all": accuracy}} plus the rejected count, for one decoder."""
    x, ok = decode_all(decode, [r.data for r in renders])
    labels, kinds = np.array([r.label for r in renders]), np.array([r.kind for r in renders])
    result: dict = {"rejected": int((~ok).sum())}
    for name, session in models.items():
        right = (predict(session, x) == labels) & ok
        result[name] = {kind: float(right[kinds == kind].mean()) for kind in KINDS if (kinds == kind).any()}
        result[name]["all"] = float(right.mean())
    return result


def timings(data_dir: Path, runs: int) -> dict:
    """p50/p90 of decode + extraction per decoder for a 1 MP and a 12 MP JPEG photo."""
    images, _ = load_mnist("test", data_dir)
    blobs = {size: render(images[0], "photo", np.random.default_rng(0), frame=hw) for size, hw in PHOTOS.items()}
    jobs = {f"{dec}/{size}": (lambda f=f, b=b: f(b)) for dec, f in DECODERS.items() for size, b in blobs.items()}
    counts = {label: runs if label.endswith("1mp") else max(5, runs // 10) for label in jobs}
    times = round_robin(jobs, counts, warmup=3)
    return {label: {k: v for k, v in latency_summary(np.asarray(ms) / 1e3).items() if k in ("n", "p50_ms", "p90_ms")}
            for label, ms in times.items()}


def markdown(report: dict) -> str:
    lines = ["# Photos of handwritten digits: old vs new decoder", "",
             (f"{report['n']} renders (seed {report['seed']}), accuracy per corruption type; "
              f"rejected renders count as wrong (old: {report['accuracy']['old']['rejected']}, "
              f"new: {report['accuracy']['new']['rejected']})."), "",
             "| kind | " + " | ".join(f"{m} old | {m} new" for m in MODELS) + " |",
             "|---|" + "---:|" * 2 * len(MODELS)]
    for kind in (*KINDS, "all"):
        cells = [f"{report['accuracy'][d][m][kind]:.1%}" for m in MODELS for d in ("old", "new")]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", "Decode + extraction, one call per decoder per round:", "",
              "| photo | decoder | n | p50 ms | p90 ms |",
              "|---|---|---:|---:|---:|"]
    for label, s in report["timing"].items():
        dec, size = label.split("/")
        lines.append(f"| {size} JPEG | {dec} | {s['n']} | {s['p50_ms']:.2f} | {s['p90_ms']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=200, help="timed calls per decoder for the 1 MP photo")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="MNIST folder (default: $KANSERVE_DATA_DIR, then ~/.cache/kanserve/mnist)")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--out", type=Path, default=Path("reports/photos.json"))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    renders, models = corpus(args.seed, args.n, args.data_dir), sessions(args.repository)
    report = {"seed": args.seed, "n": args.n, "accuracy": {d: accuracy(models, renders, f) for d,
                                                           f in DECODERS.items()},
              "timing": timings(args.data_dir, args.runs)}
    report["seconds"] = time.perf_counter() - t0
    write_json(args.out, report)
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
