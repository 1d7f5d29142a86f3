"""Every bench program imports and answers --help: a renamed helper elsewhere must not silently break a benchmark
that no other test runs end to end (bench.imaging did, once)."""
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bench

PROGRAMS = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.ispkg)


@pytest.mark.parametrize("name", PROGRAMS)
def test_bench_module_imports_and_has_help(name):
    if "__main__" not in (Path(bench.__path__[0]) / f"{name}.py").read_text():  # a helper, not a program
        importlib.import_module(f"bench.{name}")
        return
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()
