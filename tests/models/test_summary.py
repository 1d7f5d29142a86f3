"""`kanserve summary` reproduces the report's two layer tables row for row."""
import subprocess
import sys
from pathlib import Path

import pytest

from models.registry import create_model
from models.summary import layer_table

FIXTURES = Path(__file__).parent / "fixtures"


def report_rows(name: str) -> list[tuple[str, list[int], int]]:
    rows = []
    for line in (FIXTURES / f"report_{name}.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            layer, shape, params = line.split("\t")
            rows.append((layer, [int(d) for d in shape.strip("[]").split(",")], int(params)))
    return rows


@pytest.mark.parametrize("name, n_rows, total", [("mlp", 59, 3_272_842), ("fasterkan", 65, 1_427_488)])
def test_layer_table_matches_report(name, n_rows, total):
    ours, report = layer_table(create_model(name)), report_rows(name)
    assert len(report) == n_rows
    for got, want in zip(ours, report, strict=True):
        assert got == want
    assert sum(p for _, _, p in ours) == total


def test_summary_command_prints_table_and_total():
    out = subprocess.run([sys.executable, "-m", "kanserve.cli", "summary", "fasterkan"],
                         capture_output=True, text=True, check=True).stdout
    assert "ReflectionalSwitchFunction-47" in out and "[-1, 256, 8]" in out
    assert "Total params: 1,427,488" in out
