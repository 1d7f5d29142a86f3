#!/usr/bin/env bash
# On a CUDA host, once: the whole suite (provider-aware: CUDA where it can run) including the `cuda`-marked tests,
# then bench/gpu.sh; leaves reports/gpu.{json,md} to commit (`kanserve bench --render-only` updates BENCHMARKS.md).
# Needs the dev install plus the [cuda] extra:  python3 -m venv .venv && .venv/bin/pip install -e '.[dev,cuda]'
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -c "from service.gpu import status; s = status(); assert s.usable, f'{s.detail} ({s.fix})'; print('GPU:', s.detail)"
"$PY" -m pytest -q -rs
PYTHON=$PY bash bench/gpu.sh reports
