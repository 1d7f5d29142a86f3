"""What an artifact says about itself: metadata.json, ONNX metadata_props and Triton's config.pbtxt."""
import json
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import onnx

from kanserve import pbtxt
from kanserve.contract import ModelSpec, image_spec, triton_config

QUEUE_DELAY_US = 500
REPO_ROOT = Path(__file__).resolve().parents[1]
# Provenance that changes with every commit or environment: metadata.json only, never inside model.onnx, so
# re-exporting a checkpoint on a later commit gives the same model bytes (and sha256).
PROVENANCE_KEYS = ("git_commit", "tools")


def git_commit(cwd: Path = REPO_ROOT) -> str:
    """HEAD of the repository, or "unknown" outside git or before the first commit."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], check=False, cwd=cwd, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def tool_versions() -> dict[str, str]:
    def v(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "unknown"

    return {pkg: v(pkg) for pkg in ("torch", "onnx", "onnxscript", "onnxruntime")}


def build_metadata(*, name: str, version: int, architecture: str, parameters: int, metrics: dict,
                   precision: str, opset: int, ir_version: int, data_sha256: str | None) -> dict:
    """metadata.json: the model contract plus provenance, except `sha256` (which needs the finished bytes)."""
    provenance = {
        "architecture": architecture, "parameters": int(parameters), "test_accuracy": metrics.get("test_accuracy"),
        "n_test": metrics.get("n_test"), "data_sha256": metrics.get("data_sha256") or data_sha256,
        "git_commit": git_commit(), "opset": opset, "ir_version": ir_version, "tools": tool_versions(),
    }
    return image_spec(name, str(version), precision=precision, provenance=provenance).to_metadata()


def set_metadata_props(model: onnx.ModelProto, metadata: dict) -> None:
    """metadata.json's fields less the provenance ones, stringified (JSON for lists, dicts and None) and sorted,
    so the bytes depend only on the checkpoint, the export options and what the export measured."""
    del model.metadata_props[:]
    for key in sorted(set(metadata) - set(PROVENANCE_KEYS)):
        value = metadata[key]
        text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) or value is None else str(value)
        model.metadata_props.add(key=key, value=text)


def config_pbtxt(metadata: dict) -> str:
    """Triton's model configuration for the onnxruntime backend, rendered from the contract in `metadata`; every
    version is loaded (fp32 = 1, int8 = 2, fp16 = 3), since Triton's default policy would serve only the highest."""
    spec = ModelSpec.from_metadata(metadata, "export")
    return pbtxt.dumps(triton_config(spec, QUEUE_DELAY_US))
