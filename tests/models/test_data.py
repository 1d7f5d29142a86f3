"""MNIST IDX reading: real files verify, and every broken file gives an error naming it; the downloader
verifies what a (local) mirror serves."""
import gzip
import http.server
import shutil
import threading
from functools import partial

import numpy as np
import pytest

from models.data import CANONICAL, MNISTError, data_checksum, download_mnist, load_mnist, parse_idx, read_idx


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
    with pytest.raises(MNISTError, match="missing MNIST file .*t10k-images-idx3-ubyte"):
        load_mnist("test", tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "truncated"),
    (lambda b: b[:2] + b"\x09" + b[3:], "unsupported type"),
    (lambda b: b"\x01" + b[1:], "bad magic"),
    (lambda b: b[:6], "header cut short|truncated"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "checksum"),
])
def test_corrupt_raw_file_is_named(data_dir, tmp_path, damage, message):
    raw = gzip.decompress((data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    bad = tmp_path / "t10k-labels-idx1-ubyte"
    bad.write_bytes(damage(raw))
    with pytest.raises(MNISTError, match=f"(?s)({message}).*|.*{bad.name}"):
        read_idx(bad)
    with pytest.raises(MNISTError, match=bad.name):
        read_idx(bad)


def test_truncated_gzip_is_named(data_dir, tmp_path):
    payload = (data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(MNISTError, match="corrupt or truncated gzip file .*t10k-labels-idx1-ubyte.gz"):
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
    with pytest.raises(MNISTError, match="t10k-labels-idx1-ubyte.gz.*checksum"):
        download_mnist(out, mirrors=[url], timeout=5)
    assert not (out / "t10k-labels-idx1-ubyte.gz").exists()
