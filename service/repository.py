"""Reads the model repository (index.json + NAME/VERSION/metadata.json) and verifies each model's sha256."""
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ModelEntry:
    """One model version as the repository describes it; `error` says why it cannot be served."""

    name: str
    version: str
    path: Path
    sha256: str | None = None
    metadata: dict = field(default_factory=dict)
    error: str | None = None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _index_rows(root: Path) -> list[dict]:
    """index.json rows; without an index, every NAME/VERSION/model.onnx found (Triton's layout)."""
    index = root / "index.json"
    if index.exists():
        return json.loads(index.read_text())["models"]
    return [{"name": p.parts[-3], "version": p.parts[-2], "path": str(p.relative_to(root))}
            for p in sorted(root.glob("*/*/model.onnx"))]


def _check(entry: ModelEntry) -> None:
    """Fill metadata and set `error` when the files are missing, unreadable or do not match their checksums."""
    meta_path = entry.path.parent / "metadata.json"
    try:
        entry.metadata = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        entry.error = f"metadata unreadable ({meta_path.name}): {e}"
        return
    if not entry.path.exists():
        entry.error = f"model file missing: {entry.path}"
        return
    actual = file_sha256(entry.path)
    for source, expected in (("index.json", entry.sha256), ("metadata.json", entry.metadata.get("sha256"))):
        if expected and expected != actual:
            entry.error = f"sha256 mismatch with {source}: expected {expected[:12]}…, file has {actual[:12]}…"
            return
    entry.sha256 = actual


def scan(root: Path) -> list[ModelEntry]:
    """All model versions listed by the repository, each checked; raises ValueError if `root` is no repository."""
    if not root.is_dir():
        raise ValueError(f"model repository {root} is not a directory")
    try:
        rows = _index_rows(root)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"model repository {root}: unreadable index.json ({e})") from e
    if not rows:
        raise ValueError(f"model repository {root} lists no models")
    entries = [ModelEntry(str(r["name"]), str(r["version"]), root / r["path"], r.get("sha256")) for r in rows]
    for entry in entries:
        _check(entry)
    return entries
