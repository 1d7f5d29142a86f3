"""The container image, built and run: the Dockerfile's `cpu` target, as shipped, built with podman in docker format
(the OCI format drops HEALTHCHECK) on a local stand-in base image (scripts/container-base.sh; no registry is
reachable here), then run like compose runs it: healthy by its own HEALTHCHECK, a PNG predicted through the
published port, /metrics scraped, non-root with a read-only model repository, and exit 0 on stop within the grace
period. Skips locally without podman/debootstrap, fails under CI=true. ~3-6 min cold (base + build), ~30 s cached."""
import io
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.deploy import servers
from tests.deploy.tools import require

IMAGE = "localhost/kanserve:cpu-test"
# The sandboxes these run in cap ulimits below podman's defaults ("error setting rlimit ... not permitted"), and
# mount cgroups in hybrid v1/v2 mode, which crun (podman's default runtime) refuses and runc accepts.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
RUNTIME = ["--runtime", "runc"] if shutil.which("runc") else []
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # TLS to PyPI may be intercepted: pip trusts the host's CAs
GRACE_S = 30  # docker-compose.yml's stop_grace_period
MAX_IMAGE_MB = 560  # lean: no onnxruntime-gpu, no torch (measured 536 MB; OpenCV for photos is ~150 MB of it)


def _run(argv: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {out.returncode}:\n{out.stdout[-3000:]}"
                             f"\n{out.stderr[-3000:]}")
    return out


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    podman = require("podman")
    require("debootstrap")
    _run([str(REPO_ROOT / "scripts" / "container-base.sh")], timeout=900)
    build = [podman, "build", *RUNTIME, "--pull=never", "--format", "docker", "--network", "host", *ULIMITS,
             "--target", "cpu", "-t", IMAGE]
    if HOST_CA.exists():  # mounted for the RUN steps only: never baked into the image
        pip_conf = tmp_path_factory.mktemp("pip") / "pip.conf"
        pip_conf.write_text("[global]\ncert = /host-ca.crt\n")
        build += ["-v", f"{HOST_CA}:/host-ca.crt:ro", "-v", f"{pip_conf}:/etc/pip.conf:ro"]
    _run([*build, str(REPO_ROOT)], timeout=900)
    return podman


@pytest.fixture(scope="module")
def container(image):
    podman, name, port = image, f"kanserve-test-{uuid.uuid4().hex[:8]}", servers.free_port()
    _run([podman, "run", *RUNTIME, "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", *ULIMITS,
          "-v", f"{REPO_ROOT / 'model_repository'}:/models:ro", IMAGE])
    try:
        yield podman, name, f"http://127.0.0.1:{port}"
    finally:
        _run([podman, "rm", "-f", "-t", "0", name], check=False)


def _health(podman: str, name: str) -> str:
    # podman 4.x keeps the HEALTHCHECK state under .State.Healthcheck (docker's .State.Health in podman 5)
    out = _run([podman, "inspect", "--format", "{{json .State}}", name]).stdout
    m = re.search(r'"Health(?:check)?":\{"Status":"(\w+)"', out)
    return m.group(1) if m else "none"


def _digit_png(data_dir: Path) -> tuple[bytes, int]:
    from models.data import load_mnist

    images, labels = load_mnist("test", data_dir)
    buf = io.BytesIO()
    Image.fromarray(images[0]).save(buf, format="PNG")
    return buf.getvalue(), int(labels[0])


@pytest.mark.timeout(1200)
def test_image_is_lean(image):
    size = int(_run([image, "image", "inspect", "--format", "{{.Size}}", IMAGE]).stdout)
    assert size < MAX_IMAGE_MB * 1e6, f"cpu image is {size / 1e6:.0f} MB"


@pytest.mark.timeout(300)
def test_container_serves_healthy_non_root_and_stops_cleanly(container, data_dir):
    podman, name, url = container
    # Without systemd nothing runs the healthcheck on its interval: run it as the timer would, until it passes.
    deadline = time.monotonic() + 120
    while _run([podman, "healthcheck", "run", name], check=False).returncode != 0:
        assert time.monotonic() < deadline, _run([podman, "logs", name]).stdout[-3000:]
        time.sleep(1)
    assert _health(podman, name) == "healthy"

    png, label = _digit_png(data_dir)
    r = httpx.post(f"{url}/v1/models/fasterkan/predict", files={"file": ("digit.png", png, "image/png")}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["label"] == label
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    counted = [ln for ln in metrics.splitlines() if ln.startswith("kanserve_requests_total{")
               and 'model="fasterkan"' in ln and 'status="200"' in ln]
    assert counted and counted[0].endswith(" 1.0"), metrics

    status = _run([podman, "exec", name, "cat", "/proc/1/status"]).stdout
    uid = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE).group(1)
    assert uid == "10001"
    write = _run([podman, "exec", name, "sh", "-c", "touch /models/x"], check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr

    t0 = time.monotonic()
    _run([podman, "stop", "-t", str(GRACE_S), name], timeout=GRACE_S + 30)
    stopped_s = time.monotonic() - t0
    exit_code = _run([podman, "inspect", "--format", "{{.State.ExitCode}}", name]).stdout.strip()
    assert exit_code == "0" and stopped_s < GRACE_S, f"exit {exit_code} after {stopped_s:.1f} s"
