"""HTTP serving of the exported ONNX models: /v1 friendly API, Open Inference Protocol v2, metrics (no torch)."""
