"""service.stats: known values, scipy agreement for Mann–Whitney U, bootstrap CI coverage, input errors."""
import numpy as np
import pytest

from service.stats import latency_summary, mann_whitney_u, ratio_ci


def test_latency_summary_known_values():
    s = latency_summary(np.arange(1, 101) / 1000.0)  # 1..100 ms
    assert s["n"] == 100
    assert s["p50_ms"] == pytest.approx(50.5)
    assert s["p90_ms"] == pytest.approx(90.1)
    assert s["p99_ms"] == pytest.approx(99.01)
    assert s["mean_ms"] == pytest.approx(50.5)
    assert (s["min_ms"], s["max_ms"]) == pytest.approx((1.0, 100.0))
    assert all(isinstance(v, float) for k, v in s.items() if k != "n")
    assert latency_summary([0.002])["p99_ms"] == pytest.approx(2.0)


def test_ratio_ci_known_ratio_and_determinism():
    a = np.full(50, 0.010)
    r = ratio_ci(a, a * 3)
    assert (r["ratio"], r["ci_low"], r["ci_high"], r["n_boot"]) == pytest.approx((3.0, 3.0, 3.0, 2000))
    rng = np.random.default_rng(1)
    x, y = rng.lognormal(0, 0.3, 200), rng.lognormal(0.2, 0.3, 300)
    assert ratio_ci(x, y, seed=7) == ratio_ci(x, y, seed=7)
    assert ratio_ci(x, y, seed=7)["ratio"] == pytest.approx(np.median(y) / np.median(x))


def test_ratio_ci_covers_true_ratio_for_lognormal():
    true_ratio = 1.5  # lognormal median is exp(mu): ratio of medians = exp(mu_b - mu_a)
    covered = 0
    trials = 40
    for t in range(trials):
        rng = np.random.default_rng(100 + t)
        a = rng.lognormal(np.log(0.004), 0.5, 300)
        b = rng.lognormal(np.log(0.004 * true_ratio), 0.5, 300)
        r = ratio_ci(a, b, n_boot=500, seed=t)
        assert r["ci_low"] <= r["ratio"] <= r["ci_high"]
        covered += r["ci_low"] <= true_ratio <= r["ci_high"]
    assert covered >= 33  # nominal 95 % of 40 = 38; binomial slack


def test_ratio_ci_large_samples_are_chunked_and_fast():
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(0, 0.2, 20_000), rng.lognormal(0.1, 0.2, 20_000)
    r = ratio_ci(a, b, n_boot=200)
    assert r["ci_low"] < np.exp(0.1) < r["ci_high"]
    assert r["ci_high"] - r["ci_low"] < 0.02


@pytest.mark.parametrize("n1, n2, shift, ties", [(30, 40, 0.0, False), (25, 25, 0.5, False), (200, 150, 0.1, False),
                                                  (40, 60, 0.3, True), (5, 7, 1.0, True)])
def test_mann_whitney_matches_scipy(n1, n2, shift, ties):
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(n1 * n2)
    a, b = rng.normal(0, 1, n1), rng.normal(shift, 1, n2)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    ours = mann_whitney_u(a, b)
    ref = scipy_stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
    assert ours["u"] == pytest.approx(ref.statistic)
    assert ours["p_value"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)


def test_mann_whitney_edge_cases():
    assert mann_whitney_u([1.0, 1.0, 1.0], [1.0, 1.0]) == {"u": 3.0, "p_value": 1.0}
    separated = mann_whitney_u(np.arange(50.0), np.arange(100.0, 150.0))
    assert separated["u"] == 0.0 and separated["p_value"] < 1e-15
    assert mann_whitney_u([2.0], [1.0])["p_value"] == pytest.approx(1.0)


@pytest.mark.parametrize("call", [
    lambda: latency_summary([]),
    lambda: ratio_ci([], [0.1]),
    lambda: ratio_ci([0.1], []),
    lambda: ratio_ci([0.0, 0.0], [0.1]),  # A's median zero: ratio undefined
    lambda: ratio_ci([0.1], [0.1], n_boot=0),
    lambda: ratio_ci([0.1], [0.1], confidence=1.0),
    lambda: mann_whitney_u([], [1.0]),
    lambda: mann_whitney_u([1.0, float("nan")], [1.0]),
    lambda: latency_summary([0.1, float("inf")]),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
