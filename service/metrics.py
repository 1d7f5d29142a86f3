"""Prometheus metrics, one CollectorRegistry per app; latency split like Triton (request, queue, compute)."""
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

disable_created_metrics()  # the *_created series double the exposition and no dashboard of ours reads them

# Sub-millisecond buckets: an MNIST inference takes tens of µs to a few ms, so the usual 10 ms floor says nothing.
LATENCY_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 7.5e-4, 1e-3, 2.5e-3, 5e-3, 7.5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
                   0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("kanserve_requests", "HTTP requests by model, endpoint and status",
                                ["model", "endpoint", "status"], registry=r)
        self.request_seconds = Histogram("kanserve_request_duration_seconds", "HTTP request latency, first byte "
                                         "read to response", ["model", "endpoint"], buckets=LATENCY_BUCKETS,
                                         registry=r)
        self.queue_seconds = Histogram("kanserve_queue_duration_seconds", "time a request waited for its batch",
                                       ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.compute_seconds = Histogram("kanserve_compute_infer_duration_seconds", "session.run time per batch",
                                         ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("kanserve_batch_size", "images per session.run", ["model"],
                                    buckets=BATCH_BUCKETS, registry=r)
        self.inferences = Counter("kanserve_inference_count", "images inferred", ["model"], registry=r)
        self.pending = Gauge("kanserve_pending_images", "images waiting in the batch queue", ["model"], registry=r)
        self.model_info = Info("kanserve_model", "loaded models and the execution provider actually in use",
                               ["model", "version"], registry=r)
        self.model_ready = Gauge("kanserve_model_ready", "1 when the model passed warm-up", ["model", "version"],
                                 registry=r)

    def expose(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
