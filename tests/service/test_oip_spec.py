"""schemathesis with the published Open Inference Protocol REST spec (tests/service/oip/, source named there) against a
real server: whatever the spec's schemas allow a client to send, kanserve answers without a 5xx and every answer
validates against the spec's response schemas."""
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import start_server, wait_ready

SPEC = Path(__file__).parent / "oip" / "open_inference_rest.yaml"
# Half of the generated requests name a model that exists, so they reach inference rather than stop at a 404.
CONFIG = """
[parameters]
"path.MODEL_NAME" = "fasterkan"
"path.MODEL_VERSION" = "1"
"""


def test_published_oip_spec_finds_no_5xx_and_no_invalid_answer(model_repo, tmp_path):
    spec = tmp_path / "oip.yaml"
    spec.write_text(SPEC.read_text().replace("${MODEL_NAME}", "{MODEL_NAME}").replace("${MODEL_VERSION}",
                                                                                    "{MODEL_VERSION}"))
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    proc, port, log = start_server(model_repo, tmp_path, KANSERVE_MAX_BATCH_SIZE="8", KANSERVE_ACCESS_LOG="false")
    try:
        wait_ready(proc, port)
        runs = [subprocess.run([str(Path(sys.executable).parent / "schemathesis"), *extra, "run", str(spec), "--url",
                                f"http://127.0.0.1:{port}", "--checks",
                                "not_a_server_error,response_schema_conformance",
                                "--max-examples", "40", "--seed", "2", "--generation-deterministic", "--no-color"],
                               capture_output=True, text=True, timeout=600, check=False)
                for extra in ([], ["--config-file", str(config)])]
    finally:
        proc.kill()
        proc.wait()
        log.close()
    for r in runs:
        assert r.returncode == 0, r.stdout[-6000:]
