"""`kanserve probe`: an A/B latency probe for a running model server (ours, Triton or KServe).

Every input batch is sent to every model, in a random order per batch, by C concurrent workers, so drift in the
machine's load hits all models alike. Per model it reports latency percentiles, throughput and errors by status;
per pair (first model = A, each other = B) the B/A ratio of median latencies with a bootstrap 95 % CI, the
Mann–Whitney U p-value, and how often the two models' predicted labels agree on the same images. A model's
throughput is measured on its own busy time (the sum of its request latencies over the concurrency), not on the
wall time that the interleaved models share. MNIST inputs are the test split when a copy is at hand, else the
packaged sample of 256 test digits.

The pure parts (schedule, inputs, request bodies, response parsing, aggregation) are plain functions; only
`run_jobs` touches the network.
"""
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from service.stats import latency_summary, mann_whitney_u, ratio_ci

MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 256
MAX_BATCH = 256
MAX_WARMUP = 1_000
POOL_MAX = 10_000  # distinct images; request bodies repeat after POOL_MAX // batch_size requests


@dataclass
class ProbeConfig:
    url: str
    models: list[str]
    requests: int = 200
    concurrency: int = 1
    batch_size: int = 1
    input: str = "mnist"  # mnist | random
    data_dir: str | None = None
    protocol: str = "v1"  # v1 | v2
    warmup: int = 10
    seed: int = 0
    timeout_s: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        checks = [(bool(self.models) and len(set(self.models)) == len(self.models), "give distinct --models"),
                  (1 <= self.requests <= MAX_REQUESTS, f"--requests must be in 1..{MAX_REQUESTS}"),
                  (1 <= self.concurrency <= MAX_CONCURRENCY, f"--concurrency must be in 1..{MAX_CONCURRENCY}"),
                  (1 <= self.batch_size <= MAX_BATCH, f"--batch-size must be in 1..{MAX_BATCH}"),
                  (0 <= self.warmup <= MAX_WARMUP, f"--warmup must be in 0..{MAX_WARMUP}"),
                  (0 < self.timeout_s <= 600, "--timeout must be in (0, 600] seconds"),
                  (self.input in ("mnist", "random"), "--input must be mnist or random"),
                  (self.protocol in ("v1", "v2"), "--protocol must be v1 or v2"),
                  (self.url.startswith(("http://", "https://")), "--url must start with http:// or https://")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass
class Result:
    model: str
    index: int  # which input batch
    latency_s: float
    status: str  # "200", "503", ... or "timeout" / "connect" / "transport" / "bad_response"
    labels: list[int] | None = None
    error: str | None = None


# --- pure parts -------------------------------------------------------------------------------------------------

def make_schedule(n_requests: int, models: list[str], seed: int) -> list[tuple[int, str]]:
    """[(input index, model)]: every index once per model, models in a fresh random order for each index."""
    rng = np.random.default_rng(seed)
    return [(i, models[k]) for i in range(n_requests) for k in rng.permutation(len(models))]


def load_pool(kind: str, n_images: int, seed: int, data_dir: str | None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Input images float32 [P, 28, 28] in [0, 1] (white digit on black), their labels (None for random) and
    where they came from."""
    rng = np.random.default_rng(seed)
    size = max(1, min(POOL_MAX, n_images))
    if kind == "random":
        return rng.random((size, 28, 28), dtype=np.float32), None, "uniform random pixels"
    from models.data import labelled_test_digits  # numpy-only module

    images, labels, source = labelled_test_digits(data_dir)
    pick = rng.permutation(len(images))[:size]
    return images[pick].astype(np.float32) / 255.0, labels[pick].astype(np.int64), source


def batch_indices(index: int, batch_size: int, pool_size: int) -> np.ndarray:
    """Pool rows for input batch `index`: consecutive slots of `batch_size`, cycling when the pool runs out."""
    slots = max(1, pool_size // batch_size)
    start = (index % slots) * batch_size
    return np.arange(start, start + batch_size) % pool_size


def encode_body(images: np.ndarray, protocol: str) -> bytes:
    """JSON request body for a batch [B, 28, 28]: v1 {"images"} or Open Inference Protocol v2 "images" FP32."""
    values = np.round(images.astype(np.float64), 6)  # 6 decimals: well below one 8-bit gray level
    if protocol == "v1":
        return json.dumps({"images": values.tolist()}).encode()
    tensor = {"name": "images", "shape": [len(images), 1, 28, 28], "datatype": "FP32", "data": values.ravel().tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


def endpoint(url: str, model: str, protocol: str, version: str | None = None) -> str:
    """The URL for `model` ("mlp", or "mlp:int8" for a precision: v1 asks by ?precision=, v2 by its version)."""
    base, (name, _, precision) = url.rstrip("/"), model.partition(":")
    if protocol == "v1":
        return f"{base}/v1/models/{name}/predict" + (f"?precision={precision}" if precision else "")
    return f"{base}/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/infer"


def precision_versions(client, url: str, models: list[str]) -> dict[str, str]:
    """For /v2: the version serving each "name:precision" (its latest of that precision), from GET /v1/models."""
    wanted = {m: m.partition(":") for m in models if ":" in m}
    if not wanted:
        return {}
    listing = client.get(f"{url.rstrip('/')}/v1/models").json()["models"]
    found = {}
    for model, (name, _, precision) in wanted.items():
        versions = [m["version"] for m in listing if m["name"] == name and m["precision"] == precision]
        if not versions:
            raise ValueError(f"the server has no {precision} version of {name}")
        found[model] = max(versions, key=lambda v: (len(v), v))
    return found


def parse_labels(payload: dict, protocol: str, batch_size: int) -> list[int]:
    """Predicted labels from a response body; ValueError if it is not a well-formed answer for the batch."""
    try:
        if protocol == "v1":
            labels = [int(p["label"]) for p in payload["predictions"]]
        else:
            outputs = payload["outputs"]
            out = next((o for o in outputs if o.get("name") == "logits"), outputs[0])
            logits = np.asarray(out["data"], dtype=np.float64).reshape(out["shape"])  # [B, 10]
            labels = logits.reshape(len(logits), -1).argmax(axis=1).tolist()
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"unexpected response body: {type(e).__name__}: {e}") from e
    if len(labels) != batch_size:
        raise ValueError(f"expected {batch_size} predictions, got {len(labels)}")
    return labels


def aggregate(results: list[Result], cfg: ProbeConfig, wall_s: float, truth: Callable[[int], np.ndarray] | None,
              n_boot: int = 2000, input_source: str | None = None) -> dict:
    """The report: config, per-model latency/throughput/errors/accuracy, and A-vs-B comparisons."""
    by_model = {m: [r for r in results if r.model == m] for m in cfg.models}
    per_model = {m: _model_report(rs, cfg, truth) for m, rs in by_model.items()}
    comparisons = [_compare(by_model[cfg.models[0]], by_model[b], cfg.models[0], b, cfg.seed, n_boot)
                   for b in cfg.models[1:]]
    ok = [r for r in results if r.labels is not None]
    config = {k: v for k, v in asdict(cfg).items() if k != "headers"}  # headers may carry an API key
    return {"config": config, "input_source": input_source, "wall_s": wall_s,
            "requests_per_s": len(ok) / wall_s if wall_s > 0 else None, "models": per_model,
            "comparisons": comparisons,
            "samples_ms": {m: [round(r.latency_s * 1e3, 4) for r in rs if r.labels is not None]
                           for m, rs in by_model.items()}}


def busy_images_per_s(latencies_s: list[float], batch_size: int, concurrency: int) -> float | None:
    """Images per second of a model's own busy time: Σ latency / concurrency is its share of the run's wall time
    (the models' shares add up to it while every worker is busy; exact at concurrency 1). The shared wall time
    itself would give every model the same rate."""
    busy = sum(latencies_s) / concurrency
    return len(latencies_s) * batch_size / busy if busy > 0 else None


def _model_report(rs: list[Result], cfg: ProbeConfig, truth) -> dict:
    ok = [r for r in rs if r.labels is not None]
    latencies = [r.latency_s for r in ok]
    report = {"n": len(rs), "ok": len(ok), "status_counts": dict(sorted(Counter(r.status for r in rs).items())),
              "latency": latency_summary(latencies) if ok else None,
              "images_per_s": busy_images_per_s(latencies, cfg.batch_size, cfg.concurrency),
              "first_error": next((r.error for r in rs if r.error), None), "accuracy": None}
    if truth is not None and ok:
        hits = sum(int(np.sum(np.asarray(r.labels) == truth(r.index))) for r in ok)
        report["accuracy"] = hits / (len(ok) * cfg.batch_size)
    return report


def _compare(a: list[Result], b: list[Result], name_a: str, name_b: str, seed: int, n_boot: int) -> dict:
    lat_a = [r.latency_s for r in a if r.labels is not None]
    lat_b = [r.latency_s for r in b if r.labels is not None]
    out = {"a": name_a, "b": name_b, "latency_ratio": None, "mann_whitney": None, "agreement": None}
    if lat_a and lat_b:
        out["latency_ratio"] = ratio_ci(lat_a, lat_b, n_boot=n_boot, seed=seed)
        out["mann_whitney"] = mann_whitney_u(lat_a, lat_b)
    labels_a = {r.index: r.labels for r in a if r.labels is not None}
    pairs = [(labels_a[r.index], r.labels) for r in b if r.labels is not None and r.index in labels_a]
    if pairs:
        la, lb = (np.concatenate([np.asarray(p[k]) for p in pairs]) for k in (0, 1))
        out["agreement"] = {"fraction": float(np.mean(la == lb)), "n_images": int(la.size)}
    return out


def format_table(report: dict) -> str:
    cfg = report["config"]
    head = (f"{cfg['protocol']} {cfg['url']}  requests={cfg['requests']}/model  batch={cfg['batch_size']}  "
            f"concurrency={cfg['concurrency']}  input={cfg['input']}  wall={report['wall_s']:.1f}s")
    cols = f"{'model':<14}{'ok/n':>11}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'max ms':>9}" \
           f"{'img/s*':>9}{'acc':>8}  errors"
    lines = [head, f"inputs: {report.get('input_source') or cfg['input']}", cols, "-" * len(cols)]
    for name, m in report["models"].items():
        lat = m["latency"] or {}
        nums = "".join(f"{lat[k]:>9.2f}" if k in lat else f"{'-':>9}"
                       for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms"))
        errors = ", ".join(f"{s}×{c}" for s, c in m["status_counts"].items() if s != "200") or "-"
        acc = f"{m['accuracy']:>8.4f}" if m["accuracy"] is not None else f"{'-':>8}"
        lines.append(f"{name:<14}{m['ok']:>5}/{m['n']:<5}{nums}{m['images_per_s'] or 0:>9.1f}{acc}  {errors}")
    lines.append("* img/s: images answered per second of the model's own busy time (Σ latency / concurrency), not "
                 "of the wall time the interleaved models share")
    for c in report["comparisons"]:
        lines.append(_format_comparison(c))
    return "\n".join(lines)


def _format_comparison(c: dict) -> str:
    text = f"{c['b']} / {c['a']}: "
    if c["latency_ratio"]:
        r, p = c["latency_ratio"], c["mann_whitney"]["p_value"]
        text += f"median latency ratio {r['ratio']:.3f} [95% CI {r['ci_low']:.3f}, {r['ci_high']:.3f}], " \
                f"Mann-Whitney p={p:.2g}"
    else:
        text += "no latency comparison (a model had no successful request)"
    if c["agreement"]:
        text += f"; label agreement {100 * c['agreement']['fraction']:.2f}% of {c['agreement']['n_images']} images"
    return text


# --- network --------------------------------------------------------------------------------------------------

def send(client, url: str, body: bytes, model: str, index: int, protocol: str, batch_size: int) -> Result:
    import httpx

    start = time.perf_counter()
    try:
        response = client.post(url, content=body, headers={"content-type": "application/json"})
        latency = time.perf_counter() - start  # the response body is read by now; parsing is not timed
    except httpx.TimeoutException as e:
        return Result(model, index, time.perf_counter() - start, "timeout", error=f"timeout: {e}")
    except httpx.ConnectError as e:
        return Result(model, index, time.perf_counter() - start, "connect", error=f"connect: {e}")
    except httpx.TransportError as e:
        return Result(model, index, time.perf_counter() - start, "transport", error=f"{type(e).__name__}: {e}")
    if response.status_code != 200:
        return Result(model, index, latency, str(response.status_code),
                      error=f"HTTP {response.status_code}: {response.text[:300]}")
    try:
        return Result(model, index, latency, "200", labels=parse_labels(response.json(), protocol, batch_size))
    except ValueError as e:  # also json.JSONDecodeError
        return Result(model, index, latency, "bad_response", error=str(e)[:300])


def run_jobs(client, jobs: list[tuple[int, str]], body_for: Callable[[int], bytes], cfg: ProbeConfig,
             urls: dict[str, str], on_done: Callable[[], None] | None = None) -> list[Result]:
    """Send the jobs in schedule order with `cfg.concurrency` worker threads sharing one httpx.Client."""
    pending: Iterator[tuple[int, str]] = iter(jobs)
    lock = threading.Lock()
    results: list[Result] = []

    def worker() -> None:
        while True:
            with lock:
                job = next(pending, None)
            if job is None:
                return
            index, model = job
            result = send(client, urls[model], body_for(index), model, index, cfg.protocol, cfg.batch_size)
            with lock:
                results.append(result)
                if on_done:
                    on_done()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(cfg.concurrency, len(jobs)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def run_probe(cfg: ProbeConfig, progress: bool = True) -> dict:
    """Warm up, run the interleaved schedule, and return the aggregated report."""
    import httpx
    from tqdm import tqdm

    cfg.validate()
    pool, labels, source = load_pool(cfg.input, (cfg.requests + cfg.warmup) * cfg.batch_size, cfg.seed, cfg.data_dir)
    bodies: dict[int, bytes] = {}  # slot -> body, shared by all models and reused when the pool cycles
    slots = max(1, len(pool) // cfg.batch_size)

    def body_for(index: int) -> bytes:
        if index % slots not in bodies:  # a race only encodes the same body twice
            bodies[index % slots] = encode_body(pool[batch_indices(index, cfg.batch_size, len(pool))], cfg.protocol)
        return bodies[index % slots]

    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    # trust_env=False: no proxy from the environment between the probe and the server it measures
    with httpx.Client(timeout=cfg.timeout_s, limits=limits, headers=cfg.headers, trust_env=False) as client:
        versions = precision_versions(client, cfg.url, cfg.models) if cfg.protocol == "v2" else {}
        urls = {m: endpoint(cfg.url, m, cfg.protocol, versions.get(m)) for m in cfg.models}
        if cfg.warmup:
            _check_warmup(run_jobs(client, make_schedule(cfg.warmup, cfg.models, cfg.seed + 1), body_for, cfg, urls))
        jobs = make_schedule(cfg.requests, cfg.models, cfg.seed)
        jobs = [(cfg.warmup + i, m) for i, m in jobs]  # timed inputs follow the warm-up ones
        with tqdm(total=len(jobs), desc="probe", unit="req", disable=not progress) as bar:
            start = time.perf_counter()
            results = run_jobs(client, jobs, body_for, cfg, urls, on_done=lambda: bar.update(1))
            wall = time.perf_counter() - start

    def truth(index: int) -> np.ndarray:
        return labels[batch_indices(index, cfg.batch_size, len(pool))]

    return aggregate(results, cfg, wall, truth if labels is not None else None, input_source=source)


def _check_warmup(results: list[Result]) -> None:
    """Fail fast (instead of sending N doomed requests) when a model answers no warm-up request."""
    for model in sorted({r.model for r in results}):
        mine = [r for r in results if r.model == model]
        if all(r.labels is None for r in mine):
            raise RuntimeError(f"model {model!r} failed all {len(mine)} warm-up requests; first: {mine[0].error}")


# --- output ---------------------------------------------------------------------------------------------------

def log_ticks(lo: float, hi: float) -> list[float]:
    """The coarsest series of round values (1, 1-2-5, 1-1.5-2-3-5-7 or 1…9 per decade) with ≥ 3 ticks in [lo, hi]."""
    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    for mantissas in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 5, 7), range(1, 10)):
        ticks = [float(f"{m * 10.0 ** e:.3g}") for e in decades for m in mantissas]
        ticks = [t for t in ticks if lo <= t <= hi]
        if len(ticks) >= 3:
            return ticks
    return sorted({float(f"{lo:.2g}"), float(f"{hi:.2g}")})


def plot_title(report: dict) -> str:
    """What was measured and the answer: target, protocol, load, and each comparison's latency ratio with its CI."""
    cfg = report["config"]
    target = (f"{cfg['url']} ({cfg['protocol']}): {cfg['requests']} requests per model, batch {cfg['batch_size']}, "
              f"concurrency {cfg['concurrency']}, {cfg['input']} inputs")
    lines = [target]
    for c in report["comparisons"]:
        if r := c["latency_ratio"]:
            lines.append(f"{c['b']} / {c['a']} median latency {r['ratio']:.2f} "
                         f"(95 % CI {r['ci_low']:.2f}–{r['ci_high']:.2f})")
    return "\n".join(lines)


def plot(report: dict, path: str | Path) -> bool:
    """Latency CDFs and histograms per model as a PNG; False (and a message) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        print("matplotlib is not installed (pip install 'kanserve[train]'): skipping the plot")
        return False
    samples = {m: np.sort(np.asarray(s)) for m, s in report["samples_ms"].items() if s}
    fig, (ax_cdf, ax_hist) = plt.subplots(1, 2, figsize=(11, 4.6))
    lo = hi = None
    if samples:
        lo = max(min(s[0] for s in samples.values()), 1e-3)
        hi = max(max(s[-1] for s in samples.values()), lo * 1.01)
        bins = np.geomspace(lo, hi, 60)
        for name, s in samples.items():
            ax_cdf.plot(s, np.arange(1, len(s) + 1) / len(s), label=f"{name} (n={len(s)})")
            ax_hist.hist(s, bins=bins, histtype="step", label=name)
    for ax, title, ylabel in ((ax_cdf, "latency CDF", "fraction of requests"), (ax_hist, "histogram", "requests")):
        ax.set_xscale("log")
        if lo is not None:
            ax.set_xlim(lo, hi)
            ax.set_xticks(log_ticks(lo, hi))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # plain milliseconds, not 3×10⁰
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency per request (ms)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle(plot_title(report), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
