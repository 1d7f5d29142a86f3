"""Benchmarks and the A/B latency probe: programs that print tables and write JSON/PNG, never timed tests."""
