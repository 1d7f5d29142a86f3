"""MNIST IDX reading: real files verify, and every broken file gives an error naming it; the downloader
verifies what a (local) mirror serves; the data folder resolves --data-dir, then KANSERVE_DATA_DIR, then the user
cache (downloaded once; offline, a message that says what to do); the packaged sample is real MNIST."""
import gzip
import http.server
import shutil
import threading
from functools import partial

import numpy as np
import pytest

import models.data
from kanserve.sample import DIGIT_LABEL, DIGIT_PNG, SAMPLE_SIZE, load_sample
from models.data import (
    CANONICAL,
    MNISTError,
    cache_dir,
    data_checksum,
    download_mnist,
    labelled_test_digits,
    load_mnist,
    parse_idx,
    read_idx,
    resolve_data_dir,
)


def test_reads_canonical_test_split(data_dir):
    images, labels = load_mnist("test", data_dir)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_reads_raw_idx_as_well_as_gz(data_dir, tmp_path):
    raw = gzip.decompress((data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw)
    assert read_idx(tmp_path / "t10k-labels-idx1-ubyte")[:3].tolist() == [7, 2, 1]


def test_missing_file_names_it(tmp_path):
    with pytest.raises(MNISTError, match=r"missing MNIST file .*t10k-images-idx3-ubyte"):
        load_mnist("test", tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "truncated or corrupt IDX file"),
    (lambda b: b[:2] + b"\x09" + b[3:], "unsupported type 0x09"),
    (lambda b: b"\x01" + b[1:], "bad magic number"),
    (lambda b: b[:6], "header cut short"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "checksum does not match"),
])
def test_corrupt_raw_file_is_named(data_dir, tmp_path, damage, message):
    raw = gzip.decompress((data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    bad = tmp_path / "t10k-labels-idx1-ubyte"
    bad.write_bytes(damage(raw))
    with pytest.raises(MNISTError) as caught:
        read_idx(bad)
    assert message in str(caught.value) and str(bad) in str(caught.value), str(caught.value)


def test_truncated_gzip_is_named(data_dir, tmp_path):
    payload = (data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(MNISTError, match=r"corrupt or truncated gzip file .*t10k-labels-idx1-ubyte\.gz"):
        read_idx(bad)


def test_parse_idx_shapes():
    data = bytes([0, 0, 8, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6))
    assert parse_idx(data).tolist() == [[0, 1, 2], [3, 4, 5]]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def mirror(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder; yields (folder, base URL)."""
    root = tmp_path / "mirror"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_from_local_mirror_verifies(data_dir, mirror, tmp_path):
    root, url = mirror
    for stem in CANONICAL:
        shutil.copy(data_dir / f"{stem}.gz", root)
    out = download_mnist(tmp_path / "mnist", mirrors=["http://127.0.0.1:1/unreachable/", url], timeout=5)
    assert data_checksum(out) == data_checksum(data_dir)


def test_download_rejects_corrupt_mirror_file(data_dir, mirror, tmp_path):
    root, url = mirror
    for stem in CANONICAL:
        shutil.copy(data_dir / f"{stem}.gz", root)
    raw = bytearray(gzip.decompress((root / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] ^= 1
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    out = tmp_path / "mnist"
    with pytest.raises(MNISTError, match=r"t10k-labels-idx1-ubyte\.gz.*checksum"):
        download_mnist(out, mirrors=[url], timeout=5)
    assert not (out / "t10k-labels-idx1-ubyte.gz").exists()


@pytest.fixture()
def no_data(tmp_path, monkeypatch):
    """No KANSERVE_DATA_DIR and an empty user cache (XDG_CACHE_HOME in tmp_path); yields the cache folder."""
    monkeypatch.delenv("KANSERVE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "kanserve" / "mnist"


def test_named_folder_wins_then_the_environment(no_data, tmp_path, monkeypatch):
    monkeypatch.setattr(models.data, "MIRRORS", ["http://127.0.0.1:1/"])  # nothing may be downloaded here
    monkeypatch.setenv("KANSERVE_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir() == tmp_path / "env"
    assert cache_dir() == no_data


def test_user_cache_is_downloaded_once_then_reused(data_dir, no_data, mirror, monkeypatch):
    root, url = mirror
    for stem in CANONICAL:
        shutil.copy(data_dir / f"{stem}.gz", root)
    monkeypatch.setattr(models.data, "MIRRORS", [url])
    images, _ = load_mnist("test")
    assert images.shape == (10000, 28, 28) and sorted(p.name for p in no_data.iterdir()) == sorted(
        f"{stem}.gz" for stem in CANONICAL)
    monkeypatch.setattr(models.data, "MIRRORS", ["http://127.0.0.1:1/"])  # the second time needs no network
    assert resolve_data_dir() == no_data and data_checksum() == data_checksum(data_dir)


def test_offline_says_exactly_what_to_do(no_data, monkeypatch):
    monkeypatch.setattr(models.data, "MIRRORS", ["http://127.0.0.1:1/"])
    with pytest.raises(MNISTError) as caught:
        load_mnist("test")
    message = str(caught.value)
    for needed in [str(no_data), "--data-dir", "KANSERVE_DATA_DIR", *(f"{stem}.gz" for stem in CANONICAL)]:
        assert needed in message, (needed, message)


def test_probe_digits_fall_back_to_the_packaged_sample_without_downloading(data_dir, no_data, monkeypatch):
    monkeypatch.setattr(models.data, "MIRRORS", ["http://127.0.0.1:1/"])
    images, _, source = labelled_test_digits()
    assert images.shape == (SAMPLE_SIZE, 28, 28) and "packaged sample" in source and not no_data.exists()
    monkeypatch.setenv("KANSERVE_DATA_DIR", str(data_dir))
    _, labels, source = labelled_test_digits()
    assert len(labels) == 10000 and str(data_dir) in source


def test_packaged_sample_is_the_start_of_the_canonical_test_split(data_dir):
    from PIL import Image

    images, labels = load_mnist("test", data_dir)
    sample_images, sample_labels = load_sample()
    assert sample_images.dtype == np.uint8 and sample_labels.dtype == np.uint8
    np.testing.assert_array_equal(sample_images, images[:SAMPLE_SIZE])
    np.testing.assert_array_equal(sample_labels, labels[:SAMPLE_SIZE])
    png = np.asarray(Image.open(DIGIT_PNG).convert("L").resize((28, 28), Image.Resampling.BILINEAR), np.float32)
    assert labels[0] == DIGIT_LABEL and np.corrcoef(255 - png.ravel(), images[0].ravel())[0, 1] > 0.95
