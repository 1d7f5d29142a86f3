"""External tools the deployment tests drive (nginx, podman, docker-compose, ...): skip locally when one is missing,
fail under CI=true, where .ci/run installs them all."""
import os
import shutil
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI (.ci/run installs it)")
    pytest.skip(f"{what} not available here")


def require(name: str) -> str:
    """Path of an executable on PATH or beside this interpreter (the venv's bin/)."""
    venv_bin = Path(sys.executable).parent / name
    path = shutil.which(name) or (str(venv_bin) if venv_bin.exists() else None)
    if path is None:
        missing(name)
    return path
