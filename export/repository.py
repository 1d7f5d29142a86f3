"""The model repository on disk: write an artifact and index.json, read the index, verify a shipped artifact.

No torch here, so anything that only serves or checks artifacts can use it.
"""
import hashlib
import json
from pathlib import Path

import onnx

from export.checks import check_standard, make_session
from service.repository import file_sha256

INDEX = "index.json"


def dump_json(obj: dict) -> str:
    """The one JSON formatting of the repository (sorted keys, indent 2, trailing newline)."""
    return json.dumps(obj, sort_keys=True, indent=2) + "\n"


def load_index(repository: str | Path) -> dict:
    path = Path(repository) / INDEX
    return json.loads(path.read_text()) if path.exists() else {"models": []}


def update_index(repository: str | Path, name: str, version: str, rel_path: str, sha: str) -> None:
    """Insert or replace one (name, version) entry; entries stay sorted by name then version."""
    repository = Path(repository)
    entries = [e for e in load_index(repository)["models"] if (e["name"], e["version"]) != (name, version)]
    entries.append({"name": name, "version": version, "path": rel_path, "sha256": sha})
    entries.sort(key=lambda e: (e["name"], int(e["version"]) if e["version"].isdigit() else e["version"]))
    _write_atomic(repository / INDEX, dump_json({"models": entries}).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_artifact(repository: str | Path, name: str, version: str, model_bytes: bytes, metadata: dict,
                   config: str) -> Path:
    """Write model.onnx, metadata.json (with sha256), config.pbtxt and the index entry; returns model path."""
    repository = Path(repository)
    version_dir = repository / name / version
    sha = hashlib.sha256(model_bytes).hexdigest()
    _write_atomic(version_dir / "model.onnx", model_bytes)
    _write_atomic(version_dir / "metadata.json", dump_json({**metadata, "sha256": sha}).encode())
    _write_atomic(repository / name / "config.pbtxt", config.encode())
    update_index(repository, name, version, f"{name}/{version}/model.onnx", sha)
    return version_dir / "model.onnx"


def verify_artifact(path: str | Path) -> dict:
    """Check a shipped model.onnx: sha256 matches metadata.json and index.json, default-domain ops, the
    full onnx check passes, and bare onnxruntime loads it. Returns its metadata; raises RuntimeError."""
    path = Path(path)
    metadata = json.loads((path.parent / "metadata.json").read_text())
    sha = file_sha256(path)
    if metadata.get("sha256") != sha:
        raise RuntimeError(f"{path}: sha256 {sha} differs from metadata.json's {metadata.get('sha256')}")
    repository = path.parents[2]
    listed = {(e["name"], e["version"]): e for e in load_index(repository)["models"]}
    entry = listed.get((metadata["name"], metadata["version"]))
    if entry is None or entry["sha256"] != sha or (repository / entry["path"]).resolve() != path.resolve():
        raise RuntimeError(f"{path}: index.json has no matching entry for sha256 {sha}")
    check_standard(onnx.load(str(path)))
    make_session(str(path))
    return metadata
