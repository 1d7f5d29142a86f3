#!/usr/bin/env bash
# GPU benchmark on a CUDA host (a few minutes): torch on CUDA, onnxruntime CUDA EP (+ TensorRT EP when present),
# the same models and batch sizes as `kanserve bench`; writes REPORTS/gpu.json and re-renders BENCHMARKS.md.
# Needs a CUDA build of torch and onnxruntime-gpu in the environment.  Usage: bash bench/gpu.sh [REPORTS] [args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${1:-reports}
shift || true
"$PY" -c "import torch, onnxruntime as o; assert torch.cuda.is_available(), 'torch sees no CUDA device'; \
print(torch.cuda.get_device_name(0), 'onnxruntime providers:', o.get_available_providers())"
timeout 900 "$PY" -m bench.gpu --out "$OUT/gpu.json" "$@"
"$PY" -m bench.report --render-only --out "$OUT"
