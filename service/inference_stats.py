"""Triton's statistics extension: per model version, what was asked of it and where the time went.

Requests are counted by the routes (`with stats.request() as r:` marks when the input was ready and when the model
answered; the exit marks the output encoded, or a failure), executions by the batcher. Thread-safe: the batcher
records from its own thread. The JSON is Triton's (`/v2/models/stats`), so tritonclient and Triton's dashboards
read it unchanged.
"""
import threading
import time
from contextlib import contextmanager

PHASES = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss")
BATCH_PHASES = ("compute_input", "compute_infer", "compute_output")


class _Request:
    """One request's clock: input ready, model done; the rest is derived when the request ends."""

    def __init__(self):
        self.start = time.perf_counter()
        self.input_done = self.infer_done = None
        self.images, self.queue_s, self.infer_s = 0, 0.0, 0.0

    def input_ready(self, images: int) -> None:
        self.input_done, self.images = time.perf_counter(), images

    def answered(self, queue_s: float, infer_s: float) -> None:
        self.infer_done, self.queue_s, self.infer_s = time.perf_counter(), queue_s, infer_s


class InferenceStats:
    def __init__(self):
        self._lock = threading.Lock()
        self.inference_count = self.execution_count = self.last_inference_ms = 0
        self._phases = {p: [0, 0] for p in PHASES}  # phase -> [count, ns]
        self._batches: dict[int, dict[str, list[int]]] = {}

    @contextmanager
    def request(self):
        r = _Request()
        try:
            yield r
        except BaseException:
            self._add({"fail": time.perf_counter() - r.start})
            raise
        end = time.perf_counter()
        if r.infer_done is None:  # answered without running the model (nothing to count as an inference)
            return
        self._add({"success": end - r.start, "queue": r.queue_s, "compute_input": r.input_done - r.start,
                   "compute_infer": r.infer_s, "compute_output": end - r.infer_done}, images=r.images)

    def execution(self, batch_size: int, infer_s: float) -> None:
        with self._lock:
            self.execution_count += 1
            phases = self._batches.setdefault(batch_size, {p: [0, 0] for p in BATCH_PHASES})
            for phase, seconds in (("compute_input", 0.0), ("compute_infer", infer_s), ("compute_output", 0.0)):
                phases[phase][0] += 1
                phases[phase][1] += int(seconds * 1e9)

    def _add(self, seconds: dict[str, float], images: int = 0) -> None:
        with self._lock:
            for phase, s in seconds.items():
                self._phases[phase][0] += 1
                self._phases[phase][1] += int(s * 1e9)
            if images:
                self.inference_count += images
                self.last_inference_ms = int(time.time() * 1e3)

    def triton(self, name: str, version: str) -> dict:
        with self._lock:
            return {"name": name, "version": version, "last_inference": self.last_inference_ms,
                    "inference_count": self.inference_count, "execution_count": self.execution_count,
                    "inference_stats": {p: {"count": c, "ns": ns} for p, (c, ns) in self._phases.items()},
                    "response_stats": {},
                    "batch_stats": [{"batch_size": b, **{p: {"count": c, "ns": ns} for p, (c, ns) in ph.items()}}
                                    for b, ph in sorted(self._batches.items())],
                    "memory_usage": []}
