"""The model repository on disk: Triton's layout (NAME/config.pbtxt, NAME/VERSION/model.onnx) plus kanserve's
index.json (sha256 per version) and NAME/VERSION/metadata.json (the model contract). Read, verify and write.

Torch-free and onnx-free: export writes with it, the service reads with it. A repository whose files are
malformed raises RepositoryError (the server exits 2 with the message); a version whose model file is missing or
does not match its checksum is listed with an `error` and is simply not served.
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from kanserve import pbtxt
from kanserve.contract import ContractError, ModelSpec, spec_from_triton

INDEX = "index.json"
METADATA = "metadata.json"
CONFIG = "config.pbtxt"


class RepositoryError(ValueError):
    """The repository cannot be read as it is; the message names the file and the problem."""


@dataclass
class ModelEntry:
    """One model version as the repository describes it. `error` says why it cannot be served."""

    name: str
    version: str
    path: Path  # model.onnx
    spec: ModelSpec | None = None  # None: neither metadata.json nor a complete config.pbtxt (ask the ONNX file)
    config: dict | None = None  # NAME/config.pbtxt as read, when there is one
    sha256: str | None = None  # verified; before `verify`, what the index claims
    error: str | None = None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dump_json(obj: dict) -> str:
    """The one JSON formatting of the repository (sorted keys, indent 2, trailing newline)."""
    return json.dumps(obj, sort_keys=True, indent=2) + "\n"


def _load_json(path: Path, root: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise RepositoryError(f"{path.relative_to(root)}: unreadable JSON ({type(e).__name__})") from None


def load_index(root: Path) -> list[dict]:
    """index.json's rows, checked; without an index, every NAME/VERSION/model.onnx found (Triton's layout)."""
    index = root / INDEX
    if not index.exists():
        return [{"name": p.parts[-3], "version": p.parts[-2], "path": p.relative_to(root).as_posix()}
                for p in sorted(root.glob("*/*/model.onnx"))]
    data = _load_json(index, root)
    rows = data.get("models") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise RepositoryError(f"{INDEX}: expected {{\"models\": [...]}}")
    return [_check_row(row, i, root) for i, row in enumerate(rows)]


def _check_row(row: object, i: int, root: Path) -> dict:
    where = f"{INDEX} row {i}"
    if not isinstance(row, dict):
        raise RepositoryError(f"{where}: expected an object")
    for key in ("name", "version", "path"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise RepositoryError(f"{where}: '{key}' must be a non-empty string")
    if row.get("sha256") is not None and not isinstance(row["sha256"], str):
        raise RepositoryError(f"{where}: 'sha256' must be a string")
    if not (root / row["path"]).resolve().is_relative_to(root.resolve()):
        raise RepositoryError(f"{where}: path {row['path']!r} leaves the repository")
    return row


def read_config(model_dir: Path, root: Path) -> dict | None:
    """NAME/config.pbtxt, parsed; None when the model has none."""
    path = model_dir / CONFIG
    if not path.exists():
        return None
    try:
        return pbtxt.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, pbtxt.PbtxtError) as e:
        raise RepositoryError(f"{path.relative_to(root)}: unreadable ({e})") from None


def read_spec(version_dir: Path, config: dict | None, root: Path) -> ModelSpec | None:
    """The version's contract: metadata.json (a kanserve export), else what config.pbtxt says (a plain Triton
    model), else None (the service asks the ONNX file itself)."""
    path = version_dir / METADATA
    try:
        if path.exists():
            return ModelSpec.from_metadata(_load_json(path, root), str(path.relative_to(root)))
        if config and "input" in config and "output" in config:
            source = str((version_dir.parent / CONFIG).relative_to(root))
            return spec_from_triton(config, version_dir.name, _labels(version_dir.parent, config, root), source)
    except ContractError as e:
        raise RepositoryError(str(e)) from None
    return None


def _labels(model_dir: Path, config: dict, root: Path) -> tuple[str, ...] | None:
    """Class labels from the output's label_filename (one per line), as Triton reads them."""
    name = (config.get("output") or [{}])[0].get("label_filename")
    if not name:
        return None
    try:
        return tuple(line.strip() for line in (model_dir / name).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as e:
        raise RepositoryError(f"{(model_dir / name).relative_to(root)}: unreadable ({type(e).__name__})") from None


def scan(root: Path) -> list[ModelEntry]:
    """Every model version the repository lists, its contract read and its file verified."""
    if not root.is_dir():
        raise RepositoryError(f"model repository {root} is not a directory")
    rows = load_index(root)
    if not rows:
        raise RepositoryError(f"model repository {root} lists no models")
    entries, configs = [], {}
    for row in rows:
        path = root / row["path"]
        model_dir = path.parent.parent
        if model_dir not in configs:
            configs[model_dir] = read_config(model_dir, root)
        config = configs[model_dir]
        entry = ModelEntry(row["name"], row["version"], path, spec=read_spec(path.parent, config, root),
                           config=config, sha256=row.get("sha256"))
        verify(entry, root)
        entries.append(entry)
    return entries


def verify(entry: ModelEntry, root: Path) -> None:
    """Set `entry.sha256` to the file's hash, or `entry.error` when the file is missing or does not match."""
    if not entry.path.is_file():
        entry.error = f"model file missing: {entry.path.relative_to(root)}"
        return
    actual = file_sha256(entry.path)
    claims = (("index.json", entry.sha256), (METADATA, (entry.spec.provenance if entry.spec else {}).get("sha256")))
    for source, expected in claims:
        if expected and expected != actual:
            entry.error = f"sha256 mismatch with {source}: expected {expected[:12]}…, file has {actual[:12]}…"
            return
    entry.sha256 = actual


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def update_index(root: Path, name: str, version: str, rel_path: str, sha: str) -> None:
    """Insert or replace one (name, version) row; rows stay sorted by name, then version number."""
    rows = load_index(root) if (root / INDEX).exists() else []
    rows = [r for r in rows if (r["name"], r["version"]) != (name, version)]
    rows.append({"name": name, "version": version, "path": rel_path, "sha256": sha})
    rows.sort(key=lambda r: (r["name"], int(r["version"]) if r["version"].isdigit() else r["version"]))
    _write_atomic(root / INDEX, dump_json({"models": rows}).encode())


def write_artifact(root: str | Path, name: str, version: str, model_bytes: bytes, metadata: dict,
                   config: str, labels: list[str] | None = None, files: dict[str, bytes] | None = None) -> Path:
    """Write model.onnx, metadata.json (with sha256), config.pbtxt (+ labels.txt), any extra `files` beside the
    model, and the index row; returns the model path."""
    root = Path(root)
    version_dir = root / name / version
    sha = hashlib.sha256(model_bytes).hexdigest()
    _write_atomic(version_dir / "model.onnx", model_bytes)
    _write_atomic(version_dir / METADATA, dump_json({**metadata, "sha256": sha}).encode())
    if files:
        write_files(root, name, version, files)
    _write_atomic(root / name / CONFIG, config.encode())
    if labels:
        _write_atomic(root / name / "labels.txt", ("\n".join(labels) + "\n").encode())
    update_index(root, name, version, f"{name}/{version}/model.onnx", sha)
    return version_dir / "model.onnx"


def write_files(root: str | Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """Write files beside an exported version's model.onnx (e.g. functions.json) and name them with their sha256
    in its metadata.json's `files`, where the service finds them; model.onnx and index.json stay as they are."""
    root = Path(root)
    version_dir = root / name / version
    metadata = _load_json(version_dir / METADATA, root)
    if not isinstance(metadata, dict):
        raise RepositoryError(f"{name}/{version}/{METADATA}: expected a JSON object")
    for filename, data in sorted(files.items()):
        if Path(filename).name != filename or filename in ("model.onnx", METADATA):
            raise RepositoryError(f"{filename!r} cannot be written beside the model")
        _write_atomic(version_dir / filename, data)
    named = {**(metadata.get("files") or {}), **{f: hashlib.sha256(d).hexdigest() for f, d in files.items()}}
    _write_atomic(version_dir / METADATA, dump_json({**metadata, "files": named}).encode())
