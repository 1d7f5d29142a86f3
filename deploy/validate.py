"""Static checks of the container and cluster deployment files, with no Docker engine and no cluster.

Run from the repository root: `python deploy/validate.py [--model-repository PATH]`. Each check_* function
returns a list of problems (empty = fine); tests/deploy/test_container.py calls them one by one and
scripts/check-container.sh runs them all. Needs PyYAML, packaging, and tritonclient (for Triton's
ModelConfig schema, parsed with protobuf text_format).
"""
import argparse
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# The service's settings (pydantic-settings, env prefix KANSERVE_), as listed in the project contract.
KNOWN_SETTINGS = {f"KANSERVE_{k}" for k in (
    "MODEL_REPOSITORY", "PROVIDER", "INTRA_OP_THREADS", "MAX_BATCH_SIZE", "MAX_QUEUE_DELAY_US", "MAX_QUEUE",
    "MAX_BODY_BYTES", "API_KEY", "REQUIRE_CUDA", "SHUTDOWN_TIMEOUT_S", "HOST", "PORT", "LOG_LEVEL")}
READY, LIVE = "/v2/health/ready", "/v2/health/live"
PORT = 8000


# ---------------------------------------------------------------- Dockerfile
def dockerfile_instructions(path: Path | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in (path or ROOT / "Dockerfile").read_text().splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        full = (buf + line).strip()
        buf = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_stages(instructions=None) -> dict[str, dict]:
    """Stage name -> {"parent": name or image, "ins": [(INSTR, args)]}."""
    stages, current = {}, None
    for word, rest in instructions or dockerfile_instructions():
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            current = {"parent": m.group(1), "ins": []}
            stages[m.group(2) or m.group(1)] = current
        elif current is not None:
            current["ins"].append((word, rest))
    return stages


def _inherited(stages: dict, stage: str, word: str):
    """Last value of an instruction in a stage or, failing that, in its parent stages."""
    while stage in stages:
        values = [rest for w, rest in stages[stage]["ins"] if w == word]
        if values:
            return values[-1]
        stage = stages[stage]["parent"]
    return None


def _exec_form(value: str | None) -> list[str]:
    if value is None:
        return []
    if value.startswith("["):
        return yaml.safe_load(value)  # a JSON array is valid YAML
    return shlex.split(value)


def image_command(stage: str) -> list[str]:
    """ENTRYPOINT + CMD of a Dockerfile target, as argv."""
    stages = dockerfile_stages()
    return _exec_form(_inherited(stages, stage, "ENTRYPOINT")) + _exec_form(_inherited(stages, stage, "CMD"))


def check_dockerfile() -> list[str]:
    stages, errors = dockerfile_stages(), []
    for target in ("cpu", "gpu"):
        if target not in stages:
            errors.append(f"Dockerfile has no `{target}` target")
            continue
        argv = image_command(target)
        if argv[:2] != ["kanserve", "serve"] or "--model-repository" not in argv:
            errors.append(f"{target}: ENTRYPOINT+CMD is {argv}, expected `kanserve serve ... --model-repository`")
        user = _inherited(stages, target, "USER")
        if not user or user.split(":")[0] in ("0", "root") or not user.split(":")[0].isdigit():
            errors.append(f"{target}: USER must be a numeric non-root uid, got {user!r}")
        health = _inherited(stages, target, "HEALTHCHECK") or ""
        if READY not in health:
            errors.append(f"{target}: HEALTHCHECK does not probe {READY}")
        if str(PORT) not in (_inherited(stages, target, "EXPOSE") or ""):
            errors.append(f"{target}: EXPOSE {PORT} missing")
        env = " ".join(rest for w, rest in _stage_chain_ins(stages, target) if w == "ENV")
        if "PYTHONUNBUFFERED=1" not in env:
            errors.append(f"{target}: PYTHONUNBUFFERED=1 not set")
        runs = [rest for w, rest in stages[target]["ins"] if w == "RUN"]
        req = f"deploy/requirements-{target}.txt"
        if not any(w == "COPY" and req in rest for w, rest in stages[target]["ins"]):
            errors.append(f"{target}: does not COPY {req} (dependencies before code)")
        if not any("--no-deps" in r and "kanserve-" in r for r in runs):
            errors.append(f"{target}: kanserve must be installed from the wheel with --no-deps")
        if not any(w == "COPY" and rest.split()[-1].rstrip("/") == "/models" for w, rest in stages[target]["ins"]):
            errors.append(f"{target}: model_repository/ is not copied to /models")
        for word, rest in _stage_chain_ins(stages, target):
            if word == "RUN" and re.search(r"\bpip install\b", rest) and "torch" in rest:
                errors.append(f"{target}: installs torch: {rest}")
    return errors + check_wheel_stage(stages)


def _stage_chain_ins(stages: dict, stage: str) -> list[tuple[str, str]]:
    chain = []
    while stage in stages:
        chain = stages[stage]["ins"] + chain
        stage = stages[stage]["parent"]
    return chain


def check_wheel_stage(stages=None) -> list[str]:
    """The wheel is built from the project root without extras, from every package pyproject ships."""
    stages = stages or dockerfile_stages()
    if "wheel" not in stages:
        return ["Dockerfile has no `wheel` stage"]
    ins, errors = stages["wheel"]["ins"], []
    builds = [r for w, r in ins if w == "RUN" and "pip wheel" in r]
    if not builds or shlex.split(builds[0])[-1] != ".":
        errors.append(f"wheel stage must run `pip wheel ... .` (the serving install of the project), got {builds}")
    copied = {Path(tok).as_posix().rstrip("/") for w, r in ins if w == "COPY" for tok in shlex.split(r)[:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {p.rstrip("*").rstrip(".") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    wanted |= {"pyproject.toml", project["project"].get("readme", "README.md")}
    if missing := sorted(wanted - copied):
        errors.append(f"wheel stage does not COPY {missing} (pyproject packages/readme)")
    return errors


def check_dockerignore() -> list[str]:
    """The context is a whitelist; everything the Dockerfile copies from it must be on it."""
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    errors = [] if "*" in lines else [".dockerignore should start from `*` (whitelist the build context)"]
    for word, rest in dockerfile_instructions():
        if word != "COPY" or "--from" in rest:
            continue
        for src in shlex.split(rest)[:-1]:
            if Path(src).as_posix().rstrip("/") not in allowed:
                errors.append(f"COPY source {src} is excluded by .dockerignore")
    return errors


# ---------------------------------------------------------------- requirements
def _pins(path: Path) -> dict[str, Requirement]:
    reqs = [Requirement(ln.split("#")[0]) for ln in path.read_text().splitlines() if ln.split("#")[0].strip()]
    return {canonicalize_name(r.name): r for r in reqs}


def _pinned_version(req: Requirement) -> str:
    (spec,) = req.specifier
    assert spec.operator == "==", f"{req} is not pinned with =="
    return spec.version


def check_requirements() -> list[str]:
    """deploy/requirements-*.txt pin every base dependency of pyproject.toml at an allowed version."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    errors = []
    for target in ("cpu", "gpu"):
        path = ROOT / "deploy" / f"requirements-{target}.txt"
        try:
            pins = _pins(path)
            versions = {name: _pinned_version(r) for name, r in pins.items()}
        except (AssertionError, ValueError) as e:
            errors.append(f"{path.name}: {e}")
            continue
        ort, other = ("onnxruntime", "onnxruntime-gpu") if target == "cpu" else ("onnxruntime-gpu", "onnxruntime")
        if other in pins:
            errors.append(f"{path.name}: must not contain {other} (onnxruntime and onnxruntime-gpu conflict)")
        if "torch" in pins:
            errors.append(f"{path.name}: the serving image must not install torch")
        for dep in map(Requirement, deps):
            name = canonicalize_name(dep.name)
            name = ort if name == "onnxruntime" else name
            if name not in versions:
                errors.append(f"{path.name}: missing {dep}")
            elif not dep.specifier.contains(versions[name], prereleases=True):
                errors.append(f"{path.name}: {name}=={versions[name]} does not satisfy pyproject's {dep}")
        if target == "gpu" and not {"cuda", "cudnn"} <= pins.get("onnxruntime-gpu", Requirement("x")).extras:
            errors.append(f"{path.name}: onnxruntime-gpu needs the [cuda,cudnn] extras (CUDA libs from PyPI)")
    return errors


# ---------------------------------------------------------------- Makefile (the README's `make serve`)
def makefile_serve_commands(root: Path | None = None) -> list[str]:
    """Every command `make serve` would run (dry run, all targets treated as out of date)."""
    out = subprocess.run(["make", "-n", "-B", "serve"], check=False, cwd=root or ROOT, capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"`make -n -B serve` failed: {out.stderr.strip()}")
    return out.stdout.splitlines()


def check_makefile_matches_image(root: Path | None = None) -> list[str]:
    """The image runs the command `make serve` runs, on the package `make serve` installs."""
    root = root or ROOT
    if not (root / "Makefile").exists():
        return ["Makefile missing (README's serve command is `make serve`)"]
    try:
        lines = makefile_serve_commands(root)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        return [str(e)]
    errors = []
    serve = [ln for ln in lines if re.search(r"kanserve\s+serve\b", ln)]
    if not serve or "--model-repository" not in serve[-1]:
        errors.append(f"`make serve` does not run `kanserve serve --model-repository ...`: {lines}")
    specs = []
    for ln in lines:
        m = re.search(r"pip3?\s+install\s+(.*)$", ln)
        if m:
            specs += [t for t in shlex.split(m.group(1)) if not t.startswith("-")]
    if "." not in specs:
        errors.append(f"`make serve` does not `pip install .` (the package the image installs); installs {specs}")
    for target in ("cpu", "gpu"):
        argv = image_command(target)
        if argv[:2] != ["kanserve", "serve"]:
            errors.append(f"image {target} runs {argv}, `make serve` runs `kanserve serve`")
    return errors


# ---------------------------------------------------------------- docker-compose.yml
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _duration_s(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|s|m|h)", str(value)))


def _env(env) -> dict[str, str]:
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in (env or {}).items()}


def _default(value: str) -> str:
    """The default of a ${VAR:-default} interpolation (or the literal value)."""
    m = re.fullmatch(r"\$\{\w+:?-(.*)\}", value)
    return m.group(1) if m else value


def check_compose() -> list[str]:
    services, errors = compose()["services"], []
    for name in ("kanserve", "kanserve-cpu", "kanserve-replica"):
        svc = services.get(name)
        if svc is None:
            errors.append(f"compose: service {name} missing")
            continue
        env = _env(svc.get("environment"))
        if unknown := sorted(set(env) - KNOWN_SETTINGS):
            errors.append(f"compose {name}: unknown settings {unknown}")
        timeout = float(_default(env.get("KANSERVE_SHUTDOWN_TIMEOUT_S", "10")))
        if _duration_s(svc.get("stop_grace_period", "10s")) <= timeout:
            errors.append(f"compose {name}: stop_grace_period must exceed KANSERVE_SHUTDOWN_TIMEOUT_S={timeout}")
        if svc.get("stop_signal", "SIGTERM") != "SIGTERM":
            errors.append(f"compose {name}: stop_signal must be SIGTERM")
        if "./model_repository:/models:ro" not in svc.get("volumes", []):
            errors.append(f"compose {name}: model repository not mounted read-only at /models")
        if READY not in " ".join(map(str, svc.get("healthcheck", {}).get("test", []))):
            errors.append(f"compose {name}: healthcheck does not probe {READY}")
        if not svc.get("restart"):
            errors.append(f"compose {name}: no restart policy")
        target = "cpu" if name == "kanserve-cpu" else "gpu"
        if svc.get("build", {}).get("target") != target or svc.get("image") != f"kanserve:{target}":
            errors.append(f"compose {name}: must build target {target} as image kanserve:{target}")
        devices = svc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        has_gpu = any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
        if has_gpu != (target == "gpu"):
            errors.append(f"compose {name}: GPU reservation {'missing' if target == 'gpu' else 'on a CPU service'}")
    if services.get("kanserve", {}).get("profiles"):
        errors.append("compose: the GPU service `kanserve` must run without a profile")
    for name, profile in (("kanserve-cpu", "cpu"), ("prometheus", "monitoring"), ("lb", "scale"),
                          ("kanserve-replica", "scale"), ("triton", "triton")):
        if profile not in services.get(name, {}).get("profiles", []):
            errors.append(f"compose: service {name} should be in profile {profile}")
    if services.get("kanserve-replica", {}).get("ports"):
        errors.append("compose: kanserve-replica must not publish host ports (it is scaled behind lb)")
    return errors + check_nginx(services) + check_triton_service(services)


def check_nginx(services: dict) -> list[str]:
    lb = services.get("lb", {})
    conf_mount = next((v for v in lb.get("volumes", []) if "nginx" in v), "")
    path = ROOT / conf_mount.split(":")[0]
    if not conf_mount or not path.is_file():
        return [f"compose lb: nginx config not mounted from the repository ({conf_mount!r})"]
    text = re.sub(r"#.*", "", path.read_text())
    errors = [] if text.count("{") == text.count("}") else [f"{path.name}: unbalanced braces"]
    upstreams = re.findall(r"server\s+([\w.-]+):(\d+)", text)
    if not upstreams or any(h not in services or int(p) != PORT for h, p in upstreams):
        errors.append(f"{path.name}: upstream servers {upstreams} must be compose services on port {PORT}")
    listen = re.findall(r"listen\s+(\d+)", text)
    published = [str(p).split(":")[-1] for p in lb.get("ports", [])]
    if not listen or listen[0] not in published:
        errors.append(f"{path.name}: listens on {listen}, lb publishes container ports {published}")
    body = re.search(r"client_max_body_size\s+(\d+)m", text)
    if not body or int(body.group(1)) < 8:
        errors.append(f"{path.name}: client_max_body_size must allow KANSERVE_MAX_BODY_BYTES (8 MiB)")
    return errors


def check_triton_service(services: dict) -> list[str]:
    triton = services.get("triton", {})
    command = " ".join(triton.get("command", []))
    errors = []
    if "--model-repository=/models" not in command:
        errors.append("compose triton: must run tritonserver --model-repository=/models")
    if "./model_repository:/models:ro" not in triton.get("volumes", []):
        errors.append("compose triton: model_repository/ not mounted read-only at /models")
    m = re.fullmatch(r"nvcr\.io/nvidia/tritonserver:(\d\d)\.(\d\d)-py3", triton.get("image", ""))
    # 25.08 is the first Triton container on CUDA 13, the major onnxruntime-gpu 1.31 is built for.
    if not m or (int(m.group(1)), int(m.group(2))) < (25, 8):
        errors.append(f"compose triton: image {triton.get('image')!r} should be a CUDA 13 release (>= 25.08-py3)")
    return errors


# ---------------------------------------------------------------- Prometheus
def check_prometheus() -> list[str]:
    path = ROOT / "deploy" / "prometheus.yml"
    cfg, errors = yaml.safe_load(path.read_text()), []
    jobs = cfg.get("scrape_configs", [])
    names = [j.get("job_name") for j in jobs]
    if len(names) != len(set(names)) or None in names:
        errors.append(f"prometheus.yml: job names must be present and unique: {names}")
    kanserve = next((j for j in jobs if j.get("job_name") == "kanserve"), None)
    if kanserve is None:
        return errors + ["prometheus.yml: no `kanserve` job"]
    if kanserve.get("metrics_path", "/metrics") != "/metrics":
        errors.append("prometheus.yml: kanserve metrics_path must be /metrics")
    services = compose()["services"]
    for sd in kanserve.get("dns_sd_configs", []):
        if sd.get("port") != PORT or sd.get("type", "SRV") != "A":
            errors.append(f"prometheus.yml: dns_sd {sd} must be type A on port {PORT}")
        if unknown := [n for n in sd.get("names", []) if n not in services]:
            errors.append(f"prometheus.yml: {unknown} are not compose services")
    for j in jobs:
        for key in j:
            if key not in {"job_name", "metrics_path", "scrape_interval", "scrape_timeout", "scheme",
                           "static_configs", "dns_sd_configs", "relabel_configs", "honor_labels"}:
                errors.append(f"prometheus.yml: job {j.get('job_name')}: unexpected key {key}")
    mount = next((v for v in services.get("prometheus", {}).get("volumes", []) if "prometheus.yml" in v), "")
    if not mount.startswith("./deploy/prometheus.yml:"):
        errors.append("compose prometheus: deploy/prometheus.yml is not mounted")
    return errors


# ---------------------------------------------------------------- Kubernetes / KServe
def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _k8s_basics(doc: dict, where: str) -> list[str]:
    missing = [k for k in ("apiVersion", "kind", "metadata", "spec") if k not in doc]
    if not doc.get("metadata", {}).get("name"):
        missing.append("metadata.name")
    return [f"{where}: missing {missing}"] if missing else []


def check_kubernetes() -> list[str]:
    docs = [(p.name, d) for p in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")) for d in _docs(p)]
    errors = [e for name, d in docs for e in _k8s_basics(d, name)]
    deployments = [d for _, d in docs if d.get("kind") == "Deployment" and d.get("apiVersion") == "apps/v1"]
    services = [d for _, d in docs if d.get("kind") == "Service" and d.get("apiVersion") == "v1"]
    if len(deployments) != 1 or len(services) != 1:
        kinds = [d.get("kind") for _, d in docs]
        return [*errors, f"deploy/kubernetes: want one apps/v1 Deployment and one v1 Service, got {kinds}"]
    dep, svc = deployments[0], services[0]
    pod = dep["spec"]["template"]
    labels = pod["metadata"].get("labels", {})
    if not dep["spec"]["selector"]["matchLabels"].items() <= labels.items():
        errors.append("Deployment: selector.matchLabels do not match the pod template labels")
    if not svc["spec"].get("selector", {}).items() <= labels.items() or not svc["spec"].get("selector"):
        errors.append("Service: selector does not select the Deployment's pods")
    (container,) = pod["spec"]["containers"]
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    for sp in svc["spec"]["ports"]:
        target = sp.get("targetPort", sp["port"])
        if (ports.get(target) if isinstance(target, str) else target) != PORT:
            errors.append(f"Service: port {sp} does not reach container port {PORT}")
    if container.get("command") or container.get("args"):
        errors.append("Deployment: keep the image's `kanserve serve` command (no command/args)")
    if container.get("image") not in ("kanserve:gpu", "kanserve:cpu") and "kanserve" not in container.get("image", ""):
        errors.append(f"Deployment: unexpected image {container.get('image')}")
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if unknown := sorted(set(env) - KNOWN_SETTINGS):
        errors.append(f"Deployment: unknown settings {unknown}")
    for probe, path in (("readinessProbe", READY), ("livenessProbe", LIVE)):
        if container.get(probe, {}).get("httpGet", {}).get("path") != path:
            errors.append(f"Deployment: {probe} must GET {path}")
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = float(pre_stop[-1]) if pre_stop[:1] == ["sleep"] else 0.0
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    if grace <= sleep + float(env.get("KANSERVE_SHUTDOWN_TIMEOUT_S", 10)):
        errors.append("Deployment: terminationGracePeriodSeconds must exceed preStop sleep + shutdown timeout")
    uid = str(pod["spec"].get("securityContext", {}).get("runAsUser"))
    image_user = (_inherited(dockerfile_stages(), "gpu", "USER") or "").split(":")[0]
    if uid != image_user:
        errors.append(f"Deployment: runAsUser {uid} differs from the image's USER {image_user}")
    return errors


def check_kserve() -> list[str]:
    docs = [(p.name, d) for p in sorted((ROOT / "deploy" / "kserve").glob("*.yaml")) for d in _docs(p)]
    errors = [e for name, d in docs for e in _k8s_basics(d, name)]
    runtimes = {d["metadata"]["name"]: d for _, d in docs if d.get("kind") == "ServingRuntime"}
    isvcs = [d for _, d in docs if d.get("kind") == "InferenceService"]
    if not isvcs:
        errors.append("deploy/kserve: no InferenceService")
    for isvc in isvcs:
        if isvc.get("apiVersion") != "serving.kserve.io/v1beta1":
            errors.append(f"InferenceService: apiVersion {isvc.get('apiVersion')} != serving.kserve.io/v1beta1")
        model = isvc["spec"].get("predictor", {}).get("model", {})
        if model.get("modelFormat", {}).get("name") != "onnx":
            errors.append("InferenceService: predictor.model.modelFormat.name must be onnx")
        if model.get("protocolVersion") != "v2":
            errors.append("InferenceService: predictor.model.protocolVersion must be v2")
        if not re.match(r"^(s3|gs|pvc|https?|hdfs|webhdfs|oci)://", str(model.get("storageUri", ""))):
            errors.append(f"InferenceService: storageUri {model.get('storageUri')!r} is not a KServe storage URI")
        if model.get("runtime") not in (None, "kserve-tritonserver", *runtimes):
            errors.append(f"InferenceService: runtime {model.get('runtime')} is neither Triton nor shipped here")
    for name, rt in runtimes.items():
        if rt.get("apiVersion") != "serving.kserve.io/v1alpha1":
            errors.append(f"ServingRuntime {name}: apiVersion must be serving.kserve.io/v1alpha1")
        if "onnx" not in [f.get("name") for f in rt["spec"].get("supportedModelFormats", [])]:
            errors.append(f"ServingRuntime {name}: does not support modelFormat onnx")
        if "v2" not in rt["spec"].get("protocolVersions", []):
            errors.append(f"ServingRuntime {name}: protocolVersions lacks v2")
        for c in rt["spec"].get("containers", []):
            argv = c.get("command", ["kanserve"]) + c.get("args", [])
            if argv[:2] != ["kanserve", "serve"] or "/mnt/models" not in argv:
                errors.append(f"ServingRuntime {name}: must run `kanserve serve --model-repository /mnt/models`")
            if unknown := sorted({e["name"] for e in c.get("env", [])} - KNOWN_SETTINGS):
                errors.append(f"ServingRuntime {name}: unknown settings {unknown}")
    return errors


# ---------------------------------------------------------------- model repository (Triton config.pbtxt)
def triton_model_config():
    """Triton's ModelConfig message, from the model_config_pb2 that tritonclient ships (no grpc needed)."""
    spec = importlib.util.find_spec("tritonclient")
    if spec is None:
        raise RuntimeError("tritonclient is not installed (pip install 'tritonclient[http]')")
    path = Path(spec.submodule_search_locations[0]) / "grpc" / "model_config_pb2.py"
    module_spec = importlib.util.spec_from_file_location("_triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def check_config_pbtxt(path: Path, pb2=None) -> list[str]:
    """One NAME/config.pbtxt: valid Triton ModelConfig text, and the project's model contract."""
    from google.protobuf import text_format

    pb2 = pb2 or triton_model_config()
    try:
        cfg = text_format.Parse(path.read_text(), pb2.ModelConfig())
    except text_format.ParseError as e:
        return [f"{path}: not a Triton ModelConfig: {e}"]
    name, errors = path.parent.name, []
    if cfg.name and cfg.name != name:
        errors.append(f"{path}: name {cfg.name!r} != directory {name!r}")
    if cfg.platform != "onnxruntime_onnx" and cfg.backend != "onnxruntime":
        errors.append(f"{path}: platform {cfg.platform!r} is not onnxruntime_onnx")
    if cfg.max_batch_size <= 0:
        errors.append(f"{path}: max_batch_size must be > 0 (batch dimension is dynamic)")
    want = {"images": ("input", [1, 28, 28]), "logits": ("output", [10])}
    got = {t.name: ("input", list(t.dims), t.data_type) for t in cfg.input}
    got |= {t.name: ("output", list(t.dims), t.data_type) for t in cfg.output}
    for tensor, (kind, dims) in want.items():
        if got.get(tensor) != (kind, dims, pb2.TYPE_FP32):
            errors.append(f"{path}: {kind} {tensor} must be TYPE_FP32 dims {dims}, got {got.get(tensor)}")
    versions = [d for d in path.parent.iterdir() if d.is_dir() and d.name.isdigit()]
    if not any((d / "model.onnx").is_file() for d in versions):
        errors.append(f"{path.parent}: no VERSION/model.onnx")
    return errors


def check_model_repository(repo: Path | None = None) -> list[str]:
    repo = repo or ROOT / "model_repository"
    configs = sorted(repo.glob("*/config.pbtxt"))
    if not configs:
        return [f"{repo}: no NAME/config.pbtxt"]
    pb2 = triton_model_config()
    return [e for c in configs for e in check_config_pbtxt(c, pb2)]


CHECKS = [check_dockerfile, check_dockerignore, check_requirements, check_makefile_matches_image, check_compose,
          check_prometheus, check_kubernetes, check_kserve]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-repository", type=Path, default=None)
    args = p.parse_args(argv)
    failed = 0
    for check in [*CHECKS, lambda: check_model_repository(args.model_repository)]:
        name = getattr(check, "__name__", "check")
        name = "check_model_repository" if name == "<lambda>" else name
        try:
            errors = check()
        except Exception as e:  # noqa: BLE001 -- a crash in one check must not hide the others
            errors = [f"{type(e).__name__}: {e}"]
        print(f"{'FAIL' if errors else 'ok  '} {name}")
        for e in errors:
            print(f"     - {e}")
        failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
