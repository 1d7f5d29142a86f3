#!/usr/bin/env bash
# GPU benchmark on a CUDA host (a few minutes): the shipped models on onnxruntime's CUDA provider beside its CPU
# provider, fp32 and fp16, raw (session.run and the service's IO binding) and over HTTP; writes REPORTS/gpu.json and
# REPORTS/gpu.md (BENCHMARKS.md §5; `kanserve bench --render-only` puts it into BENCHMARKS.md).
# Needs the serving install with the [cuda] extra (`make serve` on a GPU host, or pip install '.[cuda]'). The fp16
# artifacts: FP16=DIR (a repository from `kanserve export --precision fp16`), else exported here when torch and
# MNIST are at hand (dev install), else skipped.   Usage: bash bench/gpu.sh [REPORTS] [args of python -m bench.gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${1:-reports}
shift || true
FP16=${FP16:-}
if [ -z "$FP16" ] && "$PY" -c "import torch, onnx" 2>/dev/null; then
    FP16=$(mktemp -d)
    for model in mlp fasterkan; do
        "$PY" -m kanserve.cli export --checkpoint "checkpoints/$model.pt" --out "$FP16" --precision fp16
    done
fi
timeout 900 "$PY" -m bench.gpu --out "$OUT/gpu.json" ${FP16:+--fp16-repository "$FP16"} "$@"
