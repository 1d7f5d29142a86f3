"""schemathesis (its CLI: its pytest plugin does not support pytest 9) against the service's own /openapi.json on a
real server: every documented operation, with bodies generated from the documented schemas and broken on purpose,
must answer without a 5xx, with the documented status codes, content types and response schemas."""
import re
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import start_server, wait_ready

# Schema-valid is not always servable: the schema cannot say "the data must fill the shape" or "the picture must
# contain a digit", so a 400 for such a body is right and schemathesis' positive_data_acceptance check is off.
ARGS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "30", "--seed", "1",
        "--generation-deterministic", "--no-color"]


def schemathesis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "schemathesis"), "run", *args], capture_output=True,
                          text=True, timeout=600, check=False)


def test_every_documented_operation_conforms(model_repo, tmp_path):
    proc, port, log = start_server(model_repo, tmp_path, KANSERVE_MAX_BATCH_SIZE="8", KANSERVE_COMPARE_MAX_S="0.2",
                                   KANSERVE_ACCESS_LOG="false")
    try:
        wait_ready(proc, port)
        r = schemathesis(f"http://127.0.0.1:{port}/openapi.json", *ARGS)
    finally:
        proc.kill()
        proc.wait()
        log.close()
    assert r.returncode == 0, r.stdout[-6000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", r.stdout)
    assert selected and selected[1] == selected[2] and f"Tested: {selected[1]}" in r.stdout, r.stdout[-2000:]
