"""Verify a shipped artifact with onnx and onnxruntime (the repository files themselves: kanserve.repository)."""
import json
from pathlib import Path

import onnx

from export.checks import check_standard, make_session
from kanserve.repository import INDEX, METADATA, file_sha256, load_index


def verify_artifact(path: str | Path) -> dict:
    """Check a shipped model.onnx: sha256 matches metadata.json and index.json, default-domain ops, the
    full onnx check passes, and bare onnxruntime loads it. Returns its metadata; raises RuntimeError."""
    path = Path(path)
    metadata = json.loads((path.parent / METADATA).read_text())
    sha = file_sha256(path)
    if metadata.get("sha256") != sha:
        raise RuntimeError(f"{path}: sha256 {sha} differs from metadata.json's {metadata.get('sha256')}")
    repository = path.parents[2]
    listed = {(e["name"], e["version"]): e for e in load_index(repository)} if (repository / INDEX).exists() else {}
    entry = listed.get((metadata["name"], metadata["version"]))
    if entry is None or entry.get("sha256") != sha or (repository / entry["path"]).resolve() != path.resolve():
        raise RuntimeError(f"{path}: index.json has no matching entry for sha256 {sha}")
    check_standard(onnx.load(str(path)))
    make_session(str(path))
    return metadata
