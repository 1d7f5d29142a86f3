"""The packaged sample of labelled MNIST test digits (numpy only, so the serving install can use it too).

Clients that need real digits but have no MNIST copy (`kanserve probe`, the web page) fall back to it; see
kanserve/samples/README.md for what it holds and where it comes from.
"""
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_NPZ = SAMPLES / "mnist_test_sample.npz"
SAMPLE_SIZE = 256  # the first 256 images of the MNIST test split, in order
DIGIT_PNG = SAMPLES / "digit.png"  # test image 0 (a 7), black on white, 112×112: an upload like a scanned digit
DIGIT_LABEL = 7


def load_sample() -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [256, 28, 28] (white digit on black, as in MNIST) and their labels uint8 [256]."""
    with np.load(SAMPLE_NPZ) as sample:
        return sample["images"], sample["labels"]


def write_sample(images: np.ndarray, labels: np.ndarray) -> None:
    """Rewrite the packaged files from the canonical test split (scripts/make_sample.py passes it in)."""
    from PIL import Image

    np.savez_compressed(SAMPLE_NPZ, images=images[:SAMPLE_SIZE], labels=labels[:SAMPLE_SIZE])
    big = Image.fromarray(255 - images[0]).resize((112, 112), Image.Resampling.BILINEAR)
    big.save(DIGIT_PNG, optimize=True)
