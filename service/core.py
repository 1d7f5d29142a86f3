"""The service's one runtime object: loaded models, their batchers, the decode pool, readiness."""
import logging

from kanserve.repository import scan
from service.batching import Batcher
from service.errors import NotFound, NotReady
from service.metrics import Metrics
from service.runtime import GPU_PROVIDERS, ModelRuntime, load_model
from service.settings import Settings, available_cores
from service.workers import WorkerPool

log = logging.getLogger("kanserve.core")


class Service:
    def __init__(self, settings: Settings, metrics: Metrics):
        self.settings, self.metrics = settings, metrics
        self.models: dict[str, dict[str, ModelRuntime]] = {}
        self.batchers: dict[tuple[str, str], Batcher] = {}
        self.pool = WorkerPool(settings.decode_threads, settings.max_decode_waiting)
        self.compare_busy = False

    def load(self) -> None:
        """Load every model version; failures leave the model not ready (with a reason), never crash."""
        entries = scan(self.settings.model_repository)
        threads = self.settings.intra_op_threads or max(1, available_cores() // len({e.name for e in entries}))
        for entry in entries:
            rt = load_model(entry, self.settings.provider, threads, self.settings.max_batch_size)
            self.models.setdefault(rt.name, {})[rt.version] = rt
            self._announce(rt, threads)
            if rt.ready:
                s = self.settings
                self.batchers[rt.name, rt.version] = Batcher(rt, s.max_queue_delay_us / 1e6, s.max_queue, self.metrics,
                                                             s.inline_budget_us / 1e6)
        self._require_cuda()

    def _announce(self, rt: ModelRuntime, threads: int) -> None:
        self.metrics.model_info.labels(rt.name, rt.version).info(
            {"provider": rt.provider or "none", "requested": self.settings.provider, "intra_op_threads": str(threads)})
        self.metrics.model_ready.labels(rt.name, rt.version).set(int(rt.ready))
        if rt.ready:
            log.info("model ready", extra={"model": rt.name, "version": rt.version, "provider": rt.provider,
                                           "intra_op_threads": threads, "warmup_ms": round(rt.warmup_ms, 3)})
        else:
            log.error("model not ready", extra={"model": rt.name, "version": rt.version, "reason": rt.error})
        if self.settings.provider in ("cuda", "tensorrt") and rt.provider and rt.provider not in GPU_PROVIDERS:
            log.warning("GPU provider requested but session runs on CPU",
                        extra={"model": rt.name, "provider": rt.provider})

    def _require_cuda(self) -> None:
        on_cpu = [f"{rt.name}/{rt.version} ({rt.provider or rt.error})" for rt in self.all()
                  if rt.provider and rt.provider not in GPU_PROVIDERS]
        if self.settings.require_cuda and on_cpu:
            raise RuntimeError(f"KANSERVE_REQUIRE_CUDA is set but these sessions are not on CUDA: {', '.join(on_cpu)}")

    def close(self) -> None:
        for batcher in self.batchers.values():
            batcher.close()
        self.pool.close()

    def all(self) -> list[ModelRuntime]:
        return [rt for versions in self.models.values() for rt in versions.values()]

    def not_ready(self) -> list[str]:
        """Why the server is not ready ([] = ready). No models at all is not ready (MLServer#2056)."""
        if not self.models:
            return ["no models loaded"]
        return [f"{rt.name}/{rt.version}: {rt.error or 'warming up'}" for rt in self.all() if not rt.ready]

    def get(self, name: str, version: str | None = None) -> ModelRuntime:
        versions = self.models.get(name)
        if not versions:
            raise NotFound(f"unknown model {name!r}; available: {', '.join(sorted(self.models))}")
        if version is None:
            version = max(versions, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))
        if version not in versions:
            raise NotFound(f"model {name!r} has no version {version!r}; available: {', '.join(sorted(versions))}")
        return versions[version]

    def ready_model(self, name: str, version: str | None = None) -> ModelRuntime:
        rt = self.get(name, version)
        if not rt.ready:
            raise NotReady(f"model {name}/{rt.version} is not ready: {rt.error}", {"Retry-After": "5"})
        return rt

    def reserve(self, rt: ModelRuntime):
        """`async with svc.reserve(model) as slot:` parse the request, then `await slot.submit(x)`."""
        return self.batchers[rt.name, rt.version].reserve()
