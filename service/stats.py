"""Latency statistics with numpy only (the serving install has no scipy): percentiles, a bootstrap CI for the ratio
of medians, and the Mann–Whitney U test. Shared by the service's /v1/compare and by `kanserve probe`."""
import math
from collections.abc import Sequence

import numpy as np

_BOOT_CHUNK_ELEMENTS = 4_000_000  # resample in chunks so 2000 × 100k samples never needs 1.6 GB at once


def _samples(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"{name}: no samples")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: samples must be finite numbers")
    return a


def latency_summary(samples_s: Sequence[float] | np.ndarray) -> dict:
    """Latencies in seconds -> {n, p50_ms, p90_ms, p99_ms, mean_ms, min_ms, max_ms} (linear-interpolated
    percentiles)."""
    ms = _samples(samples_s, "latency_summary") * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"n": int(ms.size), "p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def _boot_medians(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of `n_boot` resamples (with replacement) of x: [n_boot]."""
    chunk = max(1, _BOOT_CHUNK_ELEMENTS // x.size)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        idx = rng.integers(0, x.size, size=(rows, x.size))  # [rows, n]
        out[start:start + rows] = np.median(x[idx], axis=1)
    return out


def ratio_ci(a_samples, b_samples, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Ratio of medians B/A with a percentile-bootstrap CI, each group resampled independently.

    Returns {ratio, ci_low, ci_high, n_boot}. A ratio above 1 means B is slower (larger) than A.
    """
    a, b = _samples(a_samples, "ratio_ci a"), _samples(b_samples, "ratio_ci b")
    if n_boot < 1:
        raise ValueError(f"ratio_ci: n_boot must be >= 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"ratio_ci: confidence must be in (0, 1), got {confidence}")
    if np.median(a) <= 0 or np.any(a < 0) or np.any(b < 0):
        raise ValueError("ratio_ci: samples must be non-negative and A's median positive")
    rng = np.random.default_rng(seed)
    ratios = _boot_medians(b, n_boot, rng) / np.maximum(_boot_medians(a, n_boot, rng), np.finfo(float).tiny)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return {"ratio": float(np.median(b) / np.median(a)), "ci_low": float(low), "ci_high": float(high),
            "n_boot": int(n_boot)}


def _average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks with ties given their average rank, and the size of every tie group."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])  # first index of each group
    bounds = np.r_[starts, x.size]
    counts = np.diff(bounds)
    average = (bounds[:-1] + bounds[1:] - 1) / 2.0 + 1.0  # mean of the 1-based positions in each group
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(average, counts)
    return ranks, counts


def mann_whitney_u(a, b) -> dict:
    """Two-sided Mann–Whitney U test, normal approximation with tie and continuity corrections.

    Returns {u, p_value}; u is the statistic of sample a (scipy's U1), so u / (n_a n_b) estimates P(a > b).
    Matches scipy.stats.mannwhitneyu(a, b, method="asymptotic").
    """
    a, b = _samples(a, "mann_whitney_u a"), _samples(b, "mann_whitney_u b")
    n1, n2 = a.size, b.size
    n = n1 + n2
    ranks, ties = _average_ranks(np.concatenate([a, b]))
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    tie_term = float((ties.astype(np.float64) ** 3 - ties).sum()) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if variance <= 0:  # every value identical: no evidence of a difference
        return {"u": float(u1), "p_value": 1.0}
    z = (max(u1, n1 * n2 - u1) - mu - 0.5) / math.sqrt(variance)
    p = math.erfc(z / math.sqrt(2.0))  # two-sided: 2 * (1 - Phi(z)) = erfc(z / sqrt 2)
    return {"u": float(u1), "p_value": float(min(1.0, p))}
