"""Deployment files checked by the tools made for them, then by the project's own cross-checks (deploy/validate.py):
hadolint (Dockerfile), `docker-compose config` (every profile), kubernetes-validate (deploy/kubernetes/, strict),
KServe's published CRD schema (deploy/kserve/, tests/deploy/schemas/ names its source and commit), Triton's
ModelConfig (model_repository/*/config.pbtxt). Tools missing: skip locally, fail under CI=true."""
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.tools import missing, require

PROFILES = ["", "cpu", "monitoring", "scale", "triton"]
SCHEMAS = Path(__file__).parent / "schemas"
KSERVE_SCHEMAS = {"InferenceService": "inferenceservice-v1beta1.json", "ServingRuntime": "servingruntime-v1alpha1.json"}


_spec = importlib.util.spec_from_file_location("deploy_validate", REPO_ROOT / "deploy" / "validate.py")
validate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate)


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_hadolint_has_no_findings():
    out = _run([require("hadolint"), "--failure-threshold", "style", "Dockerfile"])
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p or "default")
def test_compose_config_is_valid(profile):
    argv = [require("docker-compose"), "-f", "docker-compose.yml"] + (["--profile", profile] if profile else [])
    out = _run([*argv, "config", "-q"])
    assert out.returncode == 0, out.stderr


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kubernetes_errors(doc: dict) -> list[str]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{doc['kind']}: {e.message} at {'.'.join(map(str, e.path))}"]
    return []


def kserve_errors(doc: dict) -> list[str]:
    import jsonschema

    schema = json.loads((SCHEMAS / KSERVE_SCHEMAS[doc["kind"]]).read_text())["schema"]
    validator = jsonschema.Draft7Validator(_closed(schema))
    return [f"{doc['kind']}: {e.message} at {'.'.join(map(str, e.path))}" for e in validator.iter_errors(doc)]


def _closed(schema):
    """Strict like `kubectl --validate=strict`: an unknown field is an error where the CRD lists the fields."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    return [_closed(v) for v in schema] if isinstance(schema, list) else schema


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "deploy" / "kubernetes").glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifests_validate(path):
    pytest.importorskip("kubernetes_validate")
    assert [e for doc in _docs(path) for e in kubernetes_errors(doc)] == []


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "deploy" / "kserve").glob("*.yaml")), ids=lambda p: p.name)
def test_kserve_resources_match_kserve_crd_schema(path):
    docs = _docs(path)
    assert docs and all(d["kind"] in KSERVE_SCHEMAS for d in docs)
    assert [e for doc in docs for e in kserve_errors(doc)] == []


def test_schemas_catch_mistakes():
    """The validators bite: a misspelt field, a wrong type and a missing required field are all reported."""
    pytest.importorskip("kubernetes_validate")
    dep = _docs(REPO_ROOT / "deploy" / "kubernetes" / "deployment.yaml")[0]
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/"}
    assert kubernetes_errors(dep)
    isvc = _docs(REPO_ROOT / "deploy" / "kserve" / "inferenceservice.yaml")[0]
    isvc["spec"]["predictor"]["minReplicas"] = "one"
    assert any("minReplicas" in e for e in kserve_errors(isvc))
    rt = _docs(REPO_ROOT / "deploy" / "kserve" / "servingruntime.yaml")[0]
    del rt["spec"]["containers"][0]["name"]
    rt["spec"]["protocolVersion"] = ["v2"]
    assert len(kserve_errors(rt)) >= 2


def test_schema_sources_are_named():
    for name in KSERVE_SCHEMAS.values():
        doc = json.loads((SCHEMAS / name).read_text())
        assert doc["source"].startswith("https://github.com/kserve/kserve/blob/") and len(doc["commit"]) == 40


# ---- Triton's ModelConfig for model_repository/*/config.pbtxt ----
def triton_model_config():
    """Triton's ModelConfig message, from the model_config_pb2 that tritonclient ships (no grpc needed)."""
    spec = importlib.util.find_spec("tritonclient")
    if spec is None:
        missing("tritonclient")
    path = Path(spec.submodule_search_locations[0]) / "grpc" / "model_config_pb2.py"
    module_spec = importlib.util.spec_from_file_location("_triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def config_errors(path: Path, pb2) -> list[str]:
    """Valid Triton ModelConfig text, and the project's model contract (images [1,28,28] -> logits [10], FP32)."""
    from google.protobuf import text_format

    try:
        cfg = text_format.Parse(path.read_text(), pb2.ModelConfig())
    except text_format.ParseError as e:
        return [f"{path}: not a Triton ModelConfig: {e}"]
    errors = [] if cfg.name in ("", path.parent.name) else [f"{path}: name {cfg.name!r} != its directory"]
    if cfg.platform != "onnxruntime_onnx" or cfg.max_batch_size <= 0:
        errors.append(f"{path}: want platform onnxruntime_onnx with a dynamic batch (max_batch_size > 0)")
    got = {t.name: (list(t.dims), t.data_type) for t in [*cfg.input, *cfg.output]}
    if got != {"images": ([1, 28, 28], pb2.TYPE_FP32), "logits": ([10], pb2.TYPE_FP32)}:
        errors.append(f"{path}: tensors {got} break the model contract")
    return errors


def test_shipped_configs_are_triton_model_configs():
    pb2, configs = triton_model_config(), sorted((REPO_ROOT / "model_repository").glob("*/config.pbtxt"))
    assert configs and [e for c in configs for e in config_errors(c, pb2)] == []


def test_config_check_catches_mistakes(tmp_path):
    pb2 = triton_model_config()
    text = (REPO_ROOT / "model_repository" / "mlp" / "config.pbtxt").read_text()
    for bad in (text.replace("max_batch_size", "max_batch"), text.replace("28, 28", "784"),
                text.replace('name: "mlp"', 'name: "other"')):
        (tmp_path / "mlp").mkdir(exist_ok=True)
        (tmp_path / "mlp" / "config.pbtxt").write_text(bad)
        assert config_errors(tmp_path / "mlp" / "config.pbtxt", pb2), bad


# ---- the project's own cross-checks ----
@pytest.mark.parametrize("check", validate.CHECKS, ids=lambda c: c.__name__)
def test_cross_check(check):
    if check is validate.check_makefile:
        require("make")
    assert check() == []


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """A copy of the files validate.py reads, for mutation tests."""
    for rel in ("Dockerfile", ".dockerignore", "docker-compose.yml", "pyproject.toml", "Makefile", "deploy"):
        src = REPO_ROOT / rel
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / rel)
    monkeypatch.setattr(validate, "ROOT", tmp_path)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


MUTATIONS = [  # (file, old, new, the check that must notice, a word of its message)
    ("deploy/requirements-gpu.txt", "onnxruntime-gpu[cuda,cudnn]==", "onnxruntime-gpu==", "check_requirements",
     "extras"),
    ("deploy/requirements-cpu.txt", "onnxruntime==1.31.1", "onnxruntime==1.30.0", "check_requirements", "onnxruntime"),
    ("docker-compose.yml", "stop_grace_period: 30s", "stop_grace_period: 5s", "check_compose", "stop_grace_period"),
    ("docker-compose.yml", "KANSERVE_MAX_QUEUE:", "KANSERVE_MAX_QUEUES:", "check_compose", "unknown settings"),
    ("Dockerfile", 'ENTRYPOINT ["kanserve"]', 'ENTRYPOINT ["uvicorn"]', "check_dockerfile", "ENTRYPOINT+CMD"),
    ("Dockerfile", "USER 10001:10001\n\nFROM runtime AS gpu", "USER root\n\nFROM runtime AS gpu", "check_dockerfile",
     "non-root"),
    (".dockerignore", "!deploy/pip_check.py\n", "", "check_dockerignore", "pip_check.py"),
    ("deploy/kubernetes/service.yaml", "  selector:\n    app.kubernetes.io/name: kanserve", "  selector:\n    app: x",
     "check_kubernetes", "selector"),
    ("deploy/kubernetes/deployment.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 12",
     "check_kubernetes", "terminationGracePeriodSeconds"),
    ("deploy/kserve/inferenceservice.yaml", "runtime: kserve-tritonserver", "runtime: mystery", "check_kserve",
     "runtime"),
    ("Makefile", "$(SERVE_VENV)/bin/kanserve serve", "$(SERVE_VENV)/bin/uvicorn service.app:app", "check_makefile",
     "kanserve serve"),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: f"{m[3]}-{m[4]}")
def test_cross_checks_catch_drift(repo_copy, mutation):
    rel, old, new, check, word = mutation
    if check == "check_makefile":
        require("make")
    assert getattr(validate, check)() == []
    _edit(repo_copy / rel, old, new)
    assert any(word in e for e in getattr(validate, check)())


# ---- `make serve`: the venv is reused, KANSERVE_* settings win unless a make variable is given ----
def _make_serve(cwd: Path, *args: str, **env: str) -> list[str]:
    # Run as a top-level make even when the suite itself runs under `make test` (no "Leaving directory" lines).
    outer = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}
    clean_env = {k: v for k, v in os.environ.items() if k not in outer}
    out = subprocess.run([require("make"), "--no-print-directory", "-n", "serve", "SERVE_EXTRA=none", *args], cwd=cwd,
                         capture_output=True, text=True, timeout=30, check=True, env={**clean_env, **env})
    return out.stdout.splitlines()


def test_make_serve_passes_only_variables_given_on_its_command_line():
    assert _make_serve(REPO_ROOT)[-1].endswith("kanserve serve")
    assert _make_serve(REPO_ROOT, PORT="9000", HOST="0.0.0.0")[-1].endswith("kanserve serve")
    assert "--port 9000" in _make_serve(REPO_ROOT, "PORT=9000")[-1]
    assert "--model-repository elsewhere" in _make_serve(REPO_ROOT, "MODEL_REPOSITORY=elsewhere")[-1]


def test_make_serve_reuses_its_venv_until_pyproject_changes(tmp_path):
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    stamp = tmp_path / ".venv-serve" / ".installed-none"
    stamp.parent.mkdir()
    stamp.touch()
    assert not any("pip install" in ln for ln in _make_serve(tmp_path))
    os.utime(tmp_path / "pyproject.toml", (stamp.stat().st_mtime + 10,) * 2)
    assert any("pip install" in ln for ln in _make_serve(tmp_path))
