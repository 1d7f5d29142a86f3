"""Project-specific cross-checks of the deployment files: what no schema knows (that a grace period outlasts the
drain, that a selector selects the pods, that every KANSERVE_* name is a real setting, that the pins match
pyproject.toml). The schemas themselves are checked by the tools made for them (tests/deploy/test_static.py:
hadolint, `docker-compose config`, kubernetes-validate, KServe's CRD schema, Triton's ModelConfig), and the image
and the nginx balancer are built and run (tests/deploy/test_image.py, test_balancer.py).

Run from the repository root: `python deploy/validate.py`. Each check_* returns a list of problems (empty = fine).
"""
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
READY, LIVE, PORT = "/v2/health/ready", "/v2/health/live", 8000


def known_settings() -> set[str]:
    """Every KANSERVE_* variable the service reads: the fields of its one settings class."""
    sys.path.insert(0, str(ROOT))
    from service.settings import Settings

    return {f"KANSERVE_{name.upper()}" for name in Settings.model_fields}


# ---------------------------------------------------------------- Dockerfile
def dockerfile_stages(path: Path | None = None) -> dict[str, dict]:
    """Stage name -> {"parent": stage or image, "ins": [(INSTRUCTION, arguments)]}; continuations joined."""
    text = re.sub(r"\\\n", " ", (path or ROOT / "Dockerfile").read_text())
    stages, current = {}, None
    for line in (ln.strip() for ln in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            m = re.match(r"(\S+)(?:\s+as\s+(\S+))?", rest.strip(), re.IGNORECASE)
            current = stages.setdefault(m.group(2) or m.group(1), {"parent": m.group(1), "ins": []})
        elif current is not None:
            current["ins"].append((word.upper(), rest.strip()))
    return stages


def _chain(stages: dict, stage: str) -> list[tuple[str, str]]:
    """Instructions of a stage and its parent stages, oldest first."""
    out = []
    while stage in stages:
        out = stages[stage]["ins"] + out
        stage = stages[stage]["parent"]
    return out


def _last(stages: dict, stage: str, word: str) -> str | None:
    return next((rest for w, rest in reversed(_chain(stages, stage)) if w == word), None)


def _argv(value: str | None) -> list[str]:
    if value is None:
        return []
    return yaml.safe_load(value) if value.startswith("[") else shlex.split(value)  # exec form is a JSON array


def image_command(stage: str) -> list[str]:
    stages = dockerfile_stages()
    return _argv(_last(stages, stage, "ENTRYPOINT")) + _argv(_last(stages, stage, "CMD"))


def check_dockerfile() -> list[str]:
    """Both targets serve with `kanserve serve` as a numeric non-root user, probe readiness, and never get torch.
    (The cpu target is also built and run by tests/deploy/test_image.py; the gpu one needs a GPU host.)"""
    stages, errors = dockerfile_stages(), []
    for target in ("cpu", "gpu"):
        if target not in stages:
            errors.append(f"Dockerfile has no `{target}` target")
            continue
        argv = image_command(target)
        if argv[:2] != ["kanserve", "serve"] or "--model-repository" not in argv:
            errors.append(f"{target}: ENTRYPOINT+CMD is {argv}, expected `kanserve serve ... --model-repository`")
        user = (_last(stages, target, "USER") or "").split(":")[0]
        if not user.isdigit() or user == "0":
            errors.append(f"{target}: USER must be a numeric non-root uid, got {user!r}")
        if READY not in (_last(stages, target, "HEALTHCHECK") or ""):
            errors.append(f"{target}: HEALTHCHECK does not probe {READY}")
        if not any(w == "COPY" and f"deploy/requirements-{target}.txt" in r for w, r in stages[target]["ins"]):
            errors.append(f"{target}: does not COPY deploy/requirements-{target}.txt (dependencies before code)")
        if any(w == "RUN" and "pip install" in r and "torch" in r for w, r in _chain(stages, target)):
            errors.append(f"{target}: installs torch")
    return errors


def check_dockerignore() -> list[str]:
    """The build context is a whitelist; everything the Dockerfile copies or bind-mounts from it is on it."""
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    errors = [] if "*" in lines else [".dockerignore should start from `*` (whitelist the build context)"]
    for stage in dockerfile_stages().values():
        for word, rest in stage["ins"]:
            sources = shlex.split(rest)[:-1] if word == "COPY" and "--from" not in rest else []
            sources += re.findall(r"--mount=type=bind,source=([^,\s]+)(?![^\s]*from=)", rest)
            errors += [f"{word} source {s} is excluded by .dockerignore" for s in sources
                       if Path(s).as_posix().rstrip("/") not in allowed]
    return errors


# ---------------------------------------------------------------- requirements
def _pins(path: Path) -> dict[str, Requirement]:
    reqs = [Requirement(ln.split("#")[0]) for ln in path.read_text().splitlines() if ln.split("#")[0].strip()]
    return {canonicalize_name(r.name): r for r in reqs}


def check_requirements() -> list[str]:
    """deploy/requirements-{cpu,gpu}.txt pin, with ==, every Linux base dependency of pyproject.toml (the cpu image
    swaps onnxruntime-gpu for onnxruntime on purpose) and the gpu file every [cuda] extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    linux = {"sys_platform": "linux", "platform_machine": "x86_64", "extra": ""}
    base = [r for r in map(Requirement, project["dependencies"]) if not r.marker or r.marker.evaluate(linux)]
    cuda = [r for r in map(Requirement, project["optional-dependencies"]["cuda"])
            if not r.marker or r.marker.evaluate({**linux, "extra": "cuda"})]
    errors = []
    for target, deps in (("cpu", base), ("gpu", base + cuda)):
        path = ROOT / "deploy" / f"requirements-{target}.txt"
        pins = _pins(path)
        for req in pins.values():
            if [s.operator for s in req.specifier] != ["=="]:
                errors.append(f"{path.name}: {req} is not pinned with ==")
        for dep in deps:
            name = canonicalize_name(dep.name)
            if target == "cpu" and name == "onnxruntime-gpu":
                name = "onnxruntime"
            pin = pins.get(name)
            version = next(iter(pin.specifier)).version if pin and pin.specifier else None
            if version is None or not dep.specifier.contains(version, prereleases=True):
                errors.append(f"{path.name}: {pin or 'nothing'} does not satisfy pyproject's {dep}")
            elif not dep.extras <= pin.extras:
                errors.append(f"{path.name}: {pin} lacks the extras of {dep}")
        if {"onnxruntime", "onnxruntime-gpu"} <= pins.keys() or "torch" in pins:
            errors.append(f"{path.name}: onnxruntime and onnxruntime-gpu together, or torch")
    return errors


# ---------------------------------------------------------------- Makefile (the README's `make serve`)
def check_makefile(root: Path | None = None) -> list[str]:
    """`make serve` installs the package the image installs (`.`) and runs the image's command, `kanserve serve`."""
    out = subprocess.run(["make", "-n", "-B", "serve"], check=False, cwd=root or ROOT, capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        return [f"`make -n -B serve` failed: {out.stderr.strip()}"]
    lines, errors = out.stdout.splitlines(), []
    if not any(re.search(r"\bkanserve\s+serve\b", ln) for ln in lines):
        errors.append(f"`make serve` does not run `kanserve serve`: {lines}")
    specs = [t for ln in lines if (m := re.search(r"pip3?\s+install\s+(.*)$", ln))
             for t in shlex.split(m.group(1)) if not t.startswith("-")]
    if not any(re.fullmatch(r"\.(\[[\w,]+\])?", s) for s in specs):
        errors.append(f"`make serve` does not install the package itself (`.`); installs {specs}")
    return errors


# ---------------------------------------------------------------- docker-compose.yml
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _seconds(value) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|s|m|h)", str(value)))


def _default(value: str) -> str:
    """The default of a ${VAR:-default} interpolation (or the literal value)."""
    m = re.fullmatch(r"\$\{\w+:?-(.*)\}", str(value))
    return m.group(1) if m else str(value)


def check_compose() -> list[str]:
    services, settings, errors = compose()["services"], known_settings(), []
    for name in ("kanserve", "kanserve-cpu", "kanserve-replica"):
        svc = services.get(name, {})
        env = svc.get("environment", {})
        if unknown := sorted(set(env) - settings):
            errors.append(f"compose {name}: unknown settings {unknown}")
        drain = float(_default(env.get("KANSERVE_SHUTDOWN_TIMEOUT_S", "10")))
        if _seconds(svc.get("stop_grace_period", "10s")) <= drain:
            errors.append(f"compose {name}: stop_grace_period must exceed KANSERVE_SHUTDOWN_TIMEOUT_S={drain}")
        if "./model_repository:/models:ro" not in svc.get("volumes", []):
            errors.append(f"compose {name}: model repository not mounted read-only at /models")
        target = "cpu" if name == "kanserve-cpu" else "gpu"
        if svc.get("build", {}).get("target") != target or svc.get("image") != f"kanserve:{target}":
            errors.append(f"compose {name}: must build target {target} as image kanserve:{target}")
        gpus = svc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        if bool(gpus) != (target == "gpu"):
            errors.append(f"compose {name}: GPU reservation {'missing' if target == 'gpu' else 'on a CPU service'}")
    lb = services.get("lb", {})
    if "./deploy/nginx/kanserve.conf:/etc/nginx/conf.d/default.conf:ro" not in lb.get("volumes", []):
        errors.append("compose lb: does not serve deploy/nginx/kanserve.conf")
    if services.get("kanserve-replica", {}).get("ports"):
        errors.append("compose: kanserve-replica must not publish host ports (it is scaled behind lb)")
    return errors + check_prometheus(services)


def check_prometheus(services: dict) -> list[str]:
    cfg = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    job = next((j for j in cfg.get("scrape_configs", []) if j.get("job_name") == "kanserve"), None)
    if job is None:
        return ["prometheus.yml: no `kanserve` job"]
    errors = []
    for sd in job.get("dns_sd_configs", []):
        if sd.get("port") != PORT or any(n not in services for n in sd.get("names", [])):
            errors.append(f"prometheus.yml: {sd} must name compose services on port {PORT}")
    return errors


# ---------------------------------------------------------------- Kubernetes / KServe
def manifests(folder: str) -> list[dict]:
    return [d for p in sorted((ROOT / "deploy" / folder).glob("*.yaml")) for d in yaml.safe_load_all(p.read_text())
            if d]


def check_kubernetes() -> list[str]:
    docs = manifests("kubernetes")
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    (svc,) = [d for d in docs if d["kind"] == "Service"]
    pod, errors = dep["spec"]["template"], []
    labels = pod["metadata"].get("labels", {})
    if not dep["spec"]["selector"]["matchLabels"].items() <= labels.items():
        errors.append("Deployment: selector.matchLabels do not match the pod template labels")
    if not svc["spec"].get("selector") or not svc["spec"]["selector"].items() <= labels.items():
        errors.append("Service: selector does not select the Deployment's pods")
    (container,) = pod["spec"]["containers"]
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    for sp in svc["spec"]["ports"]:
        target = sp.get("targetPort", sp["port"])
        if (ports.get(target) if isinstance(target, str) else target) != PORT:
            errors.append(f"Service: port {sp} does not reach container port {PORT}")
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if unknown := sorted(set(env) - known_settings()):
        errors.append(f"Deployment: unknown settings {unknown}")
    for probe, path in (("readinessProbe", READY), ("livenessProbe", LIVE)):
        if container.get(probe, {}).get("httpGet", {}).get("path") != path:
            errors.append(f"Deployment: {probe} must GET {path}")
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = float(pre_stop[-1]) if pre_stop[:1] == ["sleep"] else 0.0
    drain = sleep + float(env.get("KANSERVE_SHUTDOWN_TIMEOUT_S", 10))
    if pod["spec"].get("terminationGracePeriodSeconds", 30) <= drain:
        errors.append("Deployment: terminationGracePeriodSeconds must exceed preStop sleep + shutdown timeout")
    image_user = (_last(dockerfile_stages(), "gpu", "USER") or "").split(":")[0]
    if str(pod["spec"].get("securityContext", {}).get("runAsUser")) != image_user:
        errors.append(f"Deployment: runAsUser differs from the image's USER {image_user}")
    return errors


def check_kserve() -> list[str]:
    docs, errors = manifests("kserve"), []
    runtimes = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServingRuntime"}
    for isvc in (d for d in docs if d["kind"] == "InferenceService"):
        model = isvc["spec"]["predictor"]["model"]
        if model.get("runtime") not in ("kserve-tritonserver", *runtimes):
            errors.append(f"InferenceService: runtime {model.get('runtime')} is neither Triton nor shipped here")
        if (model["modelFormat"]["name"], model.get("protocolVersion")) != ("onnx", "v2"):
            errors.append("InferenceService: the repository holds onnx models served over v2 (OIP)")
    for name, rt in runtimes.items():
        for c in rt["spec"]["containers"]:
            argv = c.get("command", ["kanserve"]) + c.get("args", [])
            if argv[:2] != ["kanserve", "serve"] or "/mnt/models" not in argv:
                errors.append(f"ServingRuntime {name}: must run `kanserve serve --model-repository /mnt/models`")
            if unknown := sorted({e["name"] for e in c.get("env", [])} - known_settings()):
                errors.append(f"ServingRuntime {name}: unknown settings {unknown}")
    return errors


CHECKS = [check_dockerfile, check_dockerignore, check_requirements, check_makefile, check_compose, check_kubernetes,
          check_kserve]


def main() -> int:
    failed = 0
    for check in CHECKS:
        try:
            errors = check()
        except Exception as e:
            errors = [f"{type(e).__name__}: {e}"]
        print(f"{'FAIL' if errors else 'ok  '} {check.__name__}")
        print("".join(f"     - {e}\n" for e in errors), end="")
        failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
