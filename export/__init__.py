"""Checkpoint -> standard-ops ONNX -> checks (checker, parity) -> Triton-style model repository."""
