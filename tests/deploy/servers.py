"""Real `kanserve serve` processes on 127.0.0.1 for the deployment tests (stdout and stderr kept apart)."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT

# uvicorn re-raises SIGTERM once its graceful shutdown is done; as a container's PID 1 the re-raised signal is
# ignored and the exit status is 0.
CLEAN_EXIT = (0, -signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, logs: Path, **env: str) -> subprocess.Popen:
    """`kanserve serve` on 127.0.0.1:port with the shipped models; stdout/stderr go to logs/PORT.{out,err}."""
    env = {**os.environ, "KANSERVE_INTRA_OP_THREADS": "1", "KANSERVE_LOG_LEVEL": "info", **env}
    cmd = [sys.executable, "-m", "kanserve.cli", "serve", "--port", str(port),
           "--model-repository", str(REPO_ROOT / "model_repository")]
    with open(logs / f"{port}.out", "w") as out, open(logs / f"{port}.err", "w") as err:
        return subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO_ROOT)


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 90.0) -> float:
    """Poll /v2/health/ready until 200; returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} during startup")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return time.monotonic() - t0
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> int:
    """SIGTERM (a graceful drain), SIGKILL after 30 s; the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
