"""The service's one runtime object: loaded models, their batchers, the decode pool, readiness, and the model
repository extension (load a model's versions from disk, verified and warmed before they replace the old ones)."""
import asyncio
import logging

from kanserve.repository import ModelEntry, RepositoryError, scan
from service.batching import Batcher
from service.errors import BadRequest, NotFound, NotReady
from service.metrics import Metrics
from service.runtime import GPU_PROVIDERS, ModelRuntime, load_model
from service.settings import Settings, available_cores
from service.workers import WorkerPool

log = logging.getLogger("kanserve.core")


def version_key(version: str) -> tuple:
    return (not version.isdigit(), int(version) if version.isdigit() else 0, version)


class Service:
    def __init__(self, settings: Settings, metrics: Metrics):
        self.settings, self.metrics = settings, metrics
        self.models: dict[str, dict[str, ModelRuntime]] = {}
        self.batchers: dict[tuple[str, str], Batcher] = {}
        self.unloaded: set[str] = set()
        self.pool = WorkerPool(settings.decode_threads, settings.max_decode_waiting)
        self.compare_busy = False
        self.threads = 1
        self._repository_lock = asyncio.Lock()

    def load(self) -> None:
        """Load every model version at startup; failures leave the model not ready (with a reason), never crash."""
        entries = scan(self.settings.model_repository)
        self.threads = self.settings.intra_op_threads or max(1, available_cores() // len({e.name for e in entries}))
        for name, versions in self._load_entries(entries).items():
            self._serve(name, versions)
        self._require_cuda()

    def _load_entries(self, entries: list[ModelEntry], keep: dict[str, ModelRuntime] | None = None) -> dict:
        """name -> version -> runtime; a version already loaded from the same bytes is kept as it is."""
        out: dict[str, dict[str, ModelRuntime]] = {}
        for entry in entries:
            old = (keep or {}).get(entry.version)
            reuse = old is not None and old.ready and old.entry.sha256 == entry.sha256 and entry.error is None
            rt = old if reuse else load_model(entry, self.settings.provider, self.threads,
                                              self.settings.max_batch_size)
            out.setdefault(entry.name, {})[entry.version] = rt
            if not reuse:
                self._announce(rt)
        return out

    def _serve(self, name: str, versions: dict[str, ModelRuntime]) -> list[Batcher]:
        """Make `versions` the model's served set; returns the batchers of runtimes no longer served."""
        s = self.settings
        old = {v: self.batchers.pop((n, v)) for n, v in list(self.batchers) if n == name}
        for version, rt in versions.items():
            if rt.ready:
                kept = old.get(version)
                self.batchers[name, version] = old.pop(version) if kept is not None and kept.model is rt else \
                    Batcher(rt, s.max_queue_delay_us / 1e6, s.max_queue, self.metrics, s.inline_budget_us / 1e6)
        self.models[name] = versions
        self.unloaded.discard(name)
        return list(old.values())

    async def load_model(self, name: str) -> None:
        """(Re)load `name` from the repository as it is on disk now: new or changed versions are loaded, verified and
        warmed first, and only if all of them are ready do they replace the served ones (requests in flight finish
        on the old sessions). Versions no longer listed stop being served."""
        async with self._repository_lock:
            try:
                entries = [e for e in await asyncio.to_thread(scan, self.settings.model_repository) if e.name == name]
            except RepositoryError as e:
                raise BadRequest(f"failed to load '{name}': {e}") from None
            if not entries:
                raise BadRequest(f"failed to load '{name}': no such model in the repository")
            versions = (await asyncio.to_thread(self._load_entries, entries, self.models.get(name, {})))[name]
            failed = [f"version {v}: {rt.error}" for v, rt in versions.items() if not rt.ready]
            if failed:
                raise BadRequest(f"failed to load '{name}' (the versions served before are still served): "
                                 + "; ".join(failed))
            await self._retire(self._serve(name, versions))
            log.info("model loaded", extra={"model": name, "versions": sorted(versions, key=version_key)})

    async def unload_model(self, name: str) -> None:
        async with self._repository_lock:
            if name not in self.models:
                raise BadRequest(f"failed to unload '{name}': it is not loaded")
            del self.models[name]
            self.unloaded.add(name)
            await self._retire([self.batchers.pop((n, v)) for n, v in list(self.batchers) if n == name])
            log.info("model unloaded", extra={"model": name})

    @staticmethod
    async def _retire(batchers: list[Batcher]) -> None:
        """Close batchers once the requests that reached them are done (no new request can: they are unlisted)."""
        for b in batchers:
            while not b.idle():
                await asyncio.sleep(0.01)
            await asyncio.to_thread(b.close)

    async def repository_index(self) -> list[dict]:
        """Every version on disk with its state, as Triton's repository index reports it."""
        try:
            entries = await asyncio.to_thread(scan, self.settings.model_repository)
        except RepositoryError as e:
            raise BadRequest(str(e)) from None
        rows = []
        for e in entries:
            rt = self.models.get(e.name, {}).get(e.version)
            state = "READY" if rt is not None and rt.ready else "UNAVAILABLE"
            reason = "" if state == "READY" else ("unloaded" if e.name in self.unloaded or rt is None else rt.error)
            rows.append({"name": e.name, "version": e.version, "state": state, "reason": reason or ""})
        return rows

    def _announce(self, rt: ModelRuntime) -> None:
        self.metrics.model_info.labels(rt.name, rt.version).info(
            {"provider": rt.provider or "none", "requested": self.settings.provider,
             "intra_op_threads": str(self.threads)})
        self.metrics.model_ready.labels(rt.name, rt.version).set(int(rt.ready))
        if rt.ready:
            log.info("model ready", extra={"model": rt.name, "version": rt.version, "provider": rt.provider,
                                           "intra_op_threads": self.threads, "warmup_ms": round(rt.warmup_ms, 3)})
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

    def get(self, name: str, version: str | None = None, precision: str | None = None) -> ModelRuntime:
        """A served version: the one named, else the latest of `precision`, else the model's default: its latest fp32
        version (lower precisions are chosen explicitly), else its latest. Errors use Triton's wording, which its
        clients check."""
        versions = self.models.get(name)
        if not versions:
            why = "has no available versions (unloaded)" if name in self.unloaded else "is not found"
            raise NotFound(f"Request for unknown model: '{name}' {why}; available: {', '.join(sorted(self.models))}")
        if version is None:
            version = self._latest(name, versions, precision)
        if version not in versions:
            raise NotFound(f"Request for unknown model: '{name}' version {version} is not found; available versions: "
                           f"{', '.join(sorted(versions, key=version_key))}")
        return versions[version]

    @staticmethod
    def _latest(name: str, versions: dict[str, ModelRuntime], precision: str | None) -> str:
        by_precision = {}
        for v, rt in versions.items():
            by_precision.setdefault(rt.spec.precision if rt.spec else None, []).append(v)
        if precision is not None and precision not in by_precision:
            have = sorted(p for p in by_precision if p)
            raise NotFound(f"Request for unknown model: '{name}' has no {precision} version; its precisions: "
                           f"{', '.join(have)}")
        return max(by_precision.get(precision or "fp32") or versions, key=version_key)

    def ready_model(self, name: str, version: str | None = None, precision: str | None = None) -> ModelRuntime:
        rt = self.get(name, version, precision)
        if not rt.ready:
            raise NotReady(f"model {name}/{rt.version} is not ready: {rt.error}", {"Retry-After": "5"})
        return rt

    def reserve(self, rt: ModelRuntime):
        """`async with svc.reserve(model) as slot:` parse the request, then `await slot.submit(x)`."""
        return self.batchers[rt.name, rt.version].reserve()
