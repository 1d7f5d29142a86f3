"""README.md's commands work as printed: on a fresh clone of this repository (with the test run's .venv as its
`.venv`, no KANSERVE_* settings and an empty home, so no MNIST copy), a server started as `make serve` starts it,
the cheap commands run (summary, models, probe, every curl line) and give real answers; every `kanserve` line
parses; every subcommand's --help works; the product docs point at nothing outside the project."""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kanserve.cli import build_parser
from tests.conftest import REPO_ROOT
from tests.service.conftest import free_port, wait_ready

KANSERVE = ".venv/bin/kanserve"
CHEAP = re.compile(rf"^(curl |{re.escape(KANSERVE)} (summary|models|probe)\b)")
# What each cheap command must print beyond exiting 0: (pattern of the command, pattern of its output), first match.
EXPECT = [
    (r"predict\?debug=true", r'"label":\s*7.*"image_png_base64"'),
    (r"predict\?explain=true", r'"label":\s*7.*"contributions"'), (r"/predict", r'"label":\s*7'),
    (r"/functions\?", r'"importance"'),
    (r"/v1/models \|", r'"provider"'), (r"mlp:int8.*/v1/compare", r'"fasterkan/mlp:int8"'),
    (r"/v1/compare", r'"agreement":\s*1\.0'), (r"/stats", r'"model_stats"'), (r"probe .*mlp:int8", r"mlp / mlp:int8"),
    (r"/metrics", r"kanserve_"), (r"summary mlp", r"Total params: 3,272,842"),
    (r"summary fasterkan", r"Total params: 1,427,488"), (r"summary\s*(#|$)", r"cnn_fastkan"),
    (r"kanserve models", r"fasterkan"), (r"kanserve probe", r"fasterkan / mlp"),
]


def readme_commands(text: str) -> list[str]:
    """Every command of the README's ```bash blocks, continuation lines joined, comment lines dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                commands.append(command.strip())
    return commands


COMMANDS = readme_commands((REPO_ROOT / "README.md").read_text())


def expectation(command: str) -> str | None:
    return next((output for pattern, output in EXPECT if re.search(pattern, command)), None)


def test_readme_has_the_commands_this_test_runs():
    cheap = [c for c in COMMANDS if CHEAP.match(c)]
    assert len(cheap) >= 12 and all(expectation(c) for c in cheap), cheap
    assert not any(c.startswith("kanserve ") for c in COMMANDS), "use .venv/bin/kanserve, as everywhere else"


def short(command: str) -> str:
    return re.sub(r"[^\w./:-]+", "_", command.split("#")[0].strip())[:70]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith(KANSERVE)], ids=short)
def test_every_kanserve_line_parses(command):
    argv = shlex.split(command, comments=True)[1:]
    args = build_parser().parse_args(argv)  # a wrong option or command exits 2 here
    assert args.command == argv[0]


@pytest.mark.parametrize("path", ["README.md", "BENCHMARKS.md", "bench/render.py"])
def test_product_docs_point_at_nothing_outside_the_project(path):
    text = (REPO_ROOT / path).read_text()
    for outside in (r"\.\./shared", r"\banchors/", r"\bseed/", r"\blent\b"):  # the workplace, not the product
        assert not re.search(outside, text), f"{path} mentions {outside!r}"


# --- on a fresh clone --------------------------------------------------------------------------------------------

def git(*args: str, cwd: Path = REPO_ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A clone of the tracked tree as it is now (HEAD plus uncommitted changes to tracked files), whose `.venv` is
    the virtualenv running this test; its code, not the checkout's, is what runs (PYTHONPATH)."""
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    if sys.prefix == sys.base_prefix or not (Path(sys.prefix) / "bin" / "kanserve").exists():
        pytest.fail(f"run the tests from a virtualenv with kanserve installed (`make test`), not {sys.prefix}")
    snapshot = git("stash", "create") or "HEAD"
    dest = tmp_path_factory.mktemp("fresh") / "kanserve"
    git("clone", "--quiet", "--shared", "--no-checkout", str(REPO_ROOT), str(dest))
    git("checkout", "--quiet", "--detach", git("rev-parse", snapshot), cwd=dest)
    (dest / ".venv").symlink_to(sys.prefix)
    return dest


@pytest.fixture(scope="module")
def env(clone, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KANSERVE_", "XDG_"))}
    return {**clean, "HOME": str(home), "PYTHONPATH": str(clone), "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def port(clone, env, tmp_path_factory):
    """`make serve` runs `kanserve serve` (127.0.0.1, ./model_repository); here on a free port instead of 8000."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "log.txt"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([KANSERVE, "serve", "--port", str(port)], cwd=clone, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        try:
            wait_ready(proc, port, timeout=90)
        except (AssertionError, TimeoutError) as e:
            pytest.fail(f"server did not become ready ({e}):\n{log_path.read_text()[-3000:]}")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(command: str, clone: Path, env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("command", [c for c in COMMANDS if CHEAP.match(c)], ids=short)
def test_readme_command_runs_as_printed(command, clone, env, port):
    on_test_port = re.sub(r"\b(localhost|127\.0\.0\.1):8000\b", f"127.0.0.1:{port}", command)
    done = run(on_test_port, clone, env)
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert re.search(expectation(command), done.stdout, re.DOTALL), f"{command}\n{done.stdout[-3000:]}"
    if command.startswith("curl "):
        assert not re.search(r'"error":\s*\{', done.stdout), done.stdout[-2000:]  # an error body, not "error": null
    if "--json probe.json" in command:
        report = json.loads((clone / "probe.json").read_text())
        assert "packaged sample" in report["input_source"]  # no MNIST copy in the fresh home: no download either
        assert (clone / "probe.png").read_bytes()[:4] == b"\x89PNG"


def test_every_subcommand_explains_itself(clone, env):
    (sub,) = [a for a in build_parser()._actions if a.dest == "command"]
    for name in ["", *sub.choices]:
        done = run(f"{KANSERVE} {name} --help", clone, env, timeout=60)
        assert done.returncode == 0 and "usage: kanserve" in done.stdout, (name, done.stderr)
    done = run(f"{KANSERVE} --version", clone, env, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("kanserve "), done.stderr
