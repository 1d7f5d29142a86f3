"""The committed model_repository: every artifact verifies (sha256, standard ops, loads in bare onnxruntime)
and its recorded test accuracy is what onnxruntime measures on all 10,000 canonical MNIST test images."""

import pytest

from export.checks import accuracy, make_session
from export.repository import verify_artifact
from kanserve.repository import load_index
from tests.export.conftest import REPO_ROOT

REPOSITORY = REPO_ROOT / "model_repository"
ENTRIES = load_index(REPOSITORY) if (REPOSITORY / "index.json").exists() else []
MIN_ACCURACY = 0.995
ABSENT = pytest.param(None, marks=pytest.mark.skip(reason=f"no shipped models in {REPOSITORY} yet"))


def test_repository_present():
    if not ENTRIES:
        pytest.skip(f"no shipped models yet: {REPOSITORY / 'index.json'} is absent or empty")
    assert {e["name"] for e in ENTRIES} >= {"mlp", "fasterkan"}


@pytest.mark.parametrize("entry", ENTRIES or [ABSENT], ids=[f"{e['name']}/{e['version']}" for e in ENTRIES] or None)
def test_shipped_artifact(entry, mnist_test):
    path = REPOSITORY / entry["path"]
    meta = verify_artifact(path)  # sha256 vs metadata.json and index.json, default domain, loads
    assert meta["sha256"] == entry["sha256"] and meta["n_test"] == 10000
    measured = accuracy(make_session(str(path)), *mnist_test)
    assert meta["test_accuracy"] >= MIN_ACCURACY
    assert abs(meta["test_accuracy"] - measured) <= 1e-4, (meta["test_accuracy"], measured)
