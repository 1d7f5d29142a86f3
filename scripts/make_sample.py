"""Rebuild kanserve/samples/ (the packaged MNIST test sample and digit.png) from a verified MNIST copy.

Usage: .venv/bin/python scripts/make_sample.py [--data-dir DIR]
"""
import argparse

from kanserve.sample import DIGIT_PNG, SAMPLE_NPZ, write_sample
from models.data import load_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $KANSERVE_DATA_DIR, then the cache)")
    images, labels = load_mnist("test", parser.parse_args().data_dir)
    write_sample(images, labels)
    print(f"wrote {SAMPLE_NPZ} and {DIGIT_PNG}")


if __name__ == "__main__":
    main()
