"""MNIST from the standard IDX files (.gz or raw), verified against the canonical contents, and where to find them.

Where: `--data-dir`, else `$KANSERVE_DATA_DIR`, else a user cache (`~/.cache/kanserve/mnist`) that is filled by
download once, every file checked against the canonical checksums.
"""
import gzip
import hashlib
import os
import sys
import urllib.request
from pathlib import Path

import numpy as np

# sha256 of the *decompressed* IDX bytes: the same for a .gz (whatever its compression) and a raw file.
CANONICAL = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"]
_IDX_DTYPES = {0x08: np.uint8}
FILES = ", ".join(f"{stem}.gz" for stem in CANONICAL)  # what to copy by hand, for the error messages


class MNISTError(RuntimeError):
    """A missing, truncated or corrupt MNIST file; the message names the file."""


def cache_dir() -> Path:
    """The user cache the data set is downloaded into when neither --data-dir nor KANSERVE_DATA_DIR is given."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kanserve" / "mnist"


def chosen_data_dir(data_dir: Path | str | None = None) -> Path | None:
    """The folder the user named (--data-dir, then $KANSERVE_DATA_DIR), or None when they named none."""
    named = data_dir or os.environ.get("KANSERVE_DATA_DIR")
    return Path(named) if named else None


def has_mnist(data_dir: Path, split: str | None = None) -> bool:
    """Whether `data_dir` holds the files of `split` (of both splits when None), compressed or not."""
    stems = SPLITS[split] if split else CANONICAL
    return all((data_dir / f"{s}.gz").exists() or (data_dir / s).exists() for s in stems)


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The MNIST folder: the one named, else the user cache, downloaded (and verified) there the first time."""
    named = chosen_data_dir(data_dir)
    if named is not None:
        return named
    cache = cache_dir()
    if not has_mnist(cache):
        print(f"MNIST is not in {cache} yet: downloading it once (about 11 MB)", file=sys.stderr, flush=True)
        download_mnist(cache)
    return cache


def labelled_test_digits(data_dir: Path | str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Test images uint8 [N, 28, 28], labels and where they came from: the MNIST test split when a copy is at hand
    (named, or already in the cache), else the packaged sample of 256 test digits. Never downloads."""
    named = chosen_data_dir(data_dir)
    if named is not None or has_mnist(cache_dir(), "test"):
        folder = named or cache_dir()
        images, labels = load_mnist("test", folder)
        return images, labels, f"MNIST test split in {folder}"
    from kanserve.sample import load_sample

    images, labels = load_sample()
    return images, labels, f"the packaged sample of {len(labels)} MNIST test digits (no MNIST copy in {cache_dir()})"


def _find(data_dir: Path, stem: str) -> Path:
    for path in (data_dir / f"{stem}.gz", data_dir / stem):
        if path.exists():
            return path
    raise MNISTError(f"missing MNIST file {data_dir / stem}[.gz]: run `kanserve download --data-dir {data_dir}`, "
                     f"or copy the four MNIST files ({FILES}) into {data_dir}")


def _decompress(payload: bytes, name: str) -> bytes:
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise MNISTError(f"corrupt or truncated gzip file {name}: {e}") from e


def _read_bytes(path: Path) -> bytes:
    payload = path.read_bytes()
    return _decompress(payload, str(path)) if path.suffix == ".gz" else payload


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes: magic (0, 0, dtype, ndim), big-endian int32 dims, then the values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise MNISTError(f"corrupt IDX file {name}: bad magic number")
    dtype, ndim = data[2], data[3]
    if dtype not in _IDX_DTYPES or ndim == 0:
        raise MNISTError(f"corrupt IDX file {name}: unsupported type 0x{dtype:02x} or ndim {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MNISTError(f"truncated IDX file {name}: header cut short")
    dims = tuple(int(d) for d in np.frombuffer(data, ">i4", ndim, 4))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise MNISTError(f"truncated or corrupt IDX file {name}: {len(data)} bytes, expected {expected} for {dims}")
    return np.frombuffer(data, _IDX_DTYPES[dtype], offset=header).reshape(dims)


def read_idx(path: Path, verify: bool = True) -> np.ndarray:
    data = _read_bytes(path)
    arr = parse_idx(data, str(path))
    stem = path.name.removesuffix(".gz")
    if verify and stem in CANONICAL and hashlib.sha256(data).hexdigest() != CANONICAL[stem]:
        raise MNISTError(f"corrupt MNIST file {path}: checksum does not match the canonical file")
    return arr


def load_mnist(split: str, data_dir: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 28, 28] and labels uint8 [N] of `split` ('train' or 'test'), checksums verified."""
    data_dir = resolve_data_dir(data_dir)
    images_stem, labels_stem = SPLITS[split]
    images, labels = read_idx(_find(data_dir, images_stem)), read_idx(_find(data_dir, labels_stem))
    if len(images) != len(labels):
        raise MNISTError(f"MNIST {split} split in {data_dir}: {len(images)} images but {len(labels)} labels")
    return images, labels


def data_checksum(data_dir: Path | str | None = None) -> str:
    """sha256 over the four canonical decompressed-file checksums, after verifying each file."""
    data_dir = resolve_data_dir(data_dir)
    for stem in CANONICAL:
        read_idx(_find(data_dir, stem))
    return hashlib.sha256("".join(CANONICAL[s] for s in sorted(CANONICAL)).encode()).hexdigest()


def download_mnist(data_dir: Path | str, mirrors: list[str] | None = None, timeout: float = 30.0) -> Path:
    """Fetch the four .gz files into `data_dir`, trying each mirror in turn; keep a file only if it verifies."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for stem in CANONICAL:
        if (data_dir / f"{stem}.gz").exists():
            read_idx(data_dir / f"{stem}.gz")
            continue
        errors = []
        for mirror in mirrors or MIRRORS:
            try:
                _fetch_verified(mirror.rstrip("/") + f"/{stem}.gz", data_dir / f"{stem}.gz", timeout)
                break
            except (OSError, MNISTError) as e:
                errors.append(f"{mirror}: {e}")
        else:
            raise MNISTError(offline_message(data_dir, stem, errors))
    return data_dir


def offline_message(data_dir: Path, stem: str, errors: list[str]) -> str:
    """What to do when no mirror answers: the exact files, where they go, and the two ways to name a copy."""
    return (f"could not download {stem}.gz ({'; '.join(errors)}). Without network access, copy the four MNIST "
            f"files ({FILES}; uncompressed works too) into {data_dir}, or pass --data-dir DIR or set "
            f"KANSERVE_DATA_DIR=DIR to a folder that has them")


def _fetch_verified(url: str, dest: Path, timeout: float) -> None:
    """Download into memory (≤ 10 MB), verify the decompressed checksum, then write `dest` atomically."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        payload = response.read()
    name = dest.name.removesuffix(".gz")
    data = _decompress(payload, url)
    parse_idx(data, url)
    if hashlib.sha256(data).hexdigest() != CANONICAL[name]:
        raise MNISTError(f"corrupt download {url}: checksum does not match the canonical file")
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(payload)
    tmp.replace(dest)
