"""bench.probe: the pure parts (schedule, bodies, parsing, aggregation) directly, then the whole probe against a real
`kanserve serve` process on 127.0.0.1 (the shipped model repository if present, else two tiny ONNX models)."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.probe import (
    ProbeConfig,
    Result,
    aggregate,
    batch_indices,
    busy_images_per_s,
    encode_body,
    endpoint,
    format_table,
    log_ticks,
    make_schedule,
    parse_labels,
    plot_title,
    run_probe,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "model_repository"
MODELS = ["mlp", "fasterkan"]


# --- pure parts -------------------------------------------------------------------------------------------------

def test_schedule_interleaves_every_input_in_random_order():
    jobs = make_schedule(200, MODELS, seed=3)
    assert len(jobs) == 400
    pairs = [jobs[2 * i: 2 * i + 2] for i in range(200)]
    assert all(sorted(m for _, m in p) == sorted(MODELS) and p[0][0] == p[1][0] == i for i, p in enumerate(pairs))
    first = [p[0][1] for p in pairs]
    assert 70 < first.count("mlp") < 130  # each model goes first about half the time
    assert make_schedule(200, MODELS, seed=3) == jobs and make_schedule(200, MODELS, seed=4) != jobs
    assert {m for _, m in make_schedule(5, ["a", "b", "c"], 0)} == {"a", "b", "c"}


def test_batch_indices_cycle_through_the_pool():
    assert batch_indices(0, 4, 10).tolist() == [0, 1, 2, 3]
    assert batch_indices(1, 4, 10).tolist() == [4, 5, 6, 7]
    assert batch_indices(2, 4, 10).tolist() == [0, 1, 2, 3]  # two whole slots fit in 10
    assert batch_indices(7, 4, 3).tolist() == [0, 1, 2, 0]  # batch larger than the pool wraps


def test_bodies_follow_both_protocols():
    images = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    v1 = json.loads(encode_body(images, "v1"))
    assert np.allclose(v1["images"], images, atol=1e-6)
    (tensor,) = json.loads(encode_body(images, "v2"))["inputs"]
    assert tensor["name"] == "images" and tensor["datatype"] == "FP32" and tensor["shape"] == [3, 1, 28, 28]
    assert np.allclose(np.reshape(tensor["data"], (3, 28, 28)), images, atol=1e-6)
    assert endpoint("http://h:1/", "m", "v1") == "http://h:1/v1/models/m/predict"
    assert endpoint("http://h:1", "m", "v2") == "http://h:1/v2/models/m/infer"
    assert endpoint("http://h:1", "m:int8", "v1") == "http://h:1/v1/models/m/predict?precision=int8"
    assert endpoint("http://h:1", "m:int8", "v2", "2") == "http://h:1/v2/models/m/versions/2/infer"


def test_parse_labels():
    assert parse_labels({"predictions": [{"label": 3}, {"label": 7}]}, "v1", 2) == [3, 7]
    logits = np.eye(10)[[4, 9]]
    flat = {"outputs": [{"name": "probs", "shape": [2, 1], "data": [0, 0]},
                        {"name": "logits", "datatype": "FP32", "shape": [2, 10], "data": logits.ravel().tolist()}]}
    assert parse_labels(flat, "v2", 2) == [4, 9]
    nested = {"outputs": [{"name": "logits", "shape": [2, 10], "data": logits.tolist()}]}
    assert parse_labels(nested, "v2", 2) == [4, 9]
    for bad, protocol in [({"predictions": [{"label": 1}]}, "v1"), ({"error": "x"}, "v1"), ({"outputs": []}, "v2"),
                          ({"outputs": [{"name": "logits", "shape": [2, 10], "data": [1.0]}]}, "v2")]:
        with pytest.raises(ValueError):
            parse_labels(bad, protocol, 2)


def synthetic_results(n: int = 300) -> list[Result]:
    rng = np.random.default_rng(0)
    results = []
    for i in range(n):
        results.append(Result("mlp", i, rng.lognormal(np.log(0.004), 0.3), "200", labels=[i % 10, 1]))
        b_labels = [i % 10, 2 if i % 4 == 0 else 1]  # second image disagrees on every 4th input
        results.append(Result("fasterkan", i, rng.lognormal(np.log(0.002), 0.3), "200", labels=b_labels))
    results[1] = Result("fasterkan", 0, 30.0, "timeout", error="timeout: read")
    results[3] = Result("fasterkan", 1, 0.001, "503", error="HTTP 503: queue full")
    return results


def test_aggregate_reports_latency_errors_agreement_and_accuracy():
    cfg = ProbeConfig(url="http://x", models=MODELS, requests=300, batch_size=2, headers={"x-api-key": "secret"})
    report = aggregate(synthetic_results(), cfg, wall_s=2.0, truth=lambda i: np.array([i % 10, 1]), n_boot=300)
    mlp, kan = report["models"]["mlp"], report["models"]["fasterkan"]
    assert (mlp["n"], mlp["ok"], mlp["status_counts"]) == (300, 300, {"200": 300})
    assert (kan["n"], kan["ok"], kan["status_counts"]) == (300, 298, {"200": 298, "503": 1, "timeout": 1})
    assert kan["first_error"].startswith("timeout") and kan["latency"]["n"] == 298
    assert kan["latency"]["max_ms"] < 1000  # failed requests are not latency samples
    assert mlp["accuracy"] == 1.0
    # throughput on each model's own busy time: fasterkan's requests took half as long, so it serves ~2x the images
    results = synthetic_results()
    busy = {m: sum(r.latency_s for r in results if r.model == m and r.labels is not None) for m in MODELS}
    assert mlp["images_per_s"] == pytest.approx(300 * 2 / busy["mlp"])
    assert kan["images_per_s"] == pytest.approx(298 * 2 / busy["fasterkan"])
    assert 1.7 < kan["images_per_s"] / mlp["images_per_s"] < 2.3
    assert kan["accuracy"] == pytest.approx(1 - 74 / (298 * 2))  # inputs 4, 8, ..., 296 miss the second image
    (cmp,) = report["comparisons"]
    assert (cmp["a"], cmp["b"]) == ("mlp", "fasterkan")
    r = cmp["latency_ratio"]
    assert r["ci_low"] < 0.5 < r["ci_high"] and r["ci_high"] < 0.6
    assert cmp["mann_whitney"]["p_value"] < 1e-10
    assert cmp["agreement"] == {"fraction": pytest.approx(1 - 74 / 596), "n_images": 596}
    assert "secret" not in json.dumps(report)
    assert len(report["samples_ms"]["fasterkan"]) == 298
    table = format_table(report)
    assert "fasterkan / mlp" in table and "timeout×1" in table and "503×1" in table and "busy time" in table


def test_busy_throughput_counts_concurrency():
    assert busy_images_per_s([0.01] * 100, batch_size=2, concurrency=1) == pytest.approx(200)
    assert busy_images_per_s([0.01] * 100, batch_size=2, concurrency=4) == pytest.approx(800)
    assert busy_images_per_s([], batch_size=1, concurrency=1) is None


def test_plot_title_and_ticks():
    cfg = ProbeConfig(url="http://127.0.0.1:8000", models=MODELS, requests=300, batch_size=2)
    report = aggregate(synthetic_results(), cfg, wall_s=2.0, truth=None, n_boot=300)
    ratio = report["comparisons"][0]["latency_ratio"]
    title = plot_title(report)
    assert "http://127.0.0.1:8000" in title and f"{ratio['ratio']:.2f}" in title
    assert f"95 % CI {ratio['ci_low']:.2f}–{ratio['ci_high']:.2f}" in title
    assert log_ticks(1.3, 19) == [2, 5, 10]  # round values only, not 1.3, 2.5, 9.8, 19
    assert log_ticks(0.05, 300) == [0.1, 1, 10, 100]
    assert log_ticks(0.6, 3) == [0.7, 1, 1.5, 2, 3]


def test_aggregate_survives_a_model_with_no_successes():
    cfg = ProbeConfig(url="http://x", models=MODELS, requests=2)
    results = [Result("mlp", i, 0.01, "200", labels=[1]) for i in range(2)]
    results += [Result("fasterkan", i, 0.01, "connect", error="connect: refused") for i in range(2)]
    report = aggregate(results, cfg, wall_s=1.0, truth=None)
    assert report["models"]["fasterkan"]["latency"] is None
    assert report["comparisons"][0]["latency_ratio"] is None and report["comparisons"][0]["agreement"] is None
    assert "no latency comparison" in format_table(report)


@pytest.mark.parametrize("change", [{"requests": 0}, {"requests": 100_001}, {"concurrency": 0}, {"batch_size": 257},
                                    {"models": []}, {"models": ["a", "a"]}, {"protocol": "v3"}, {"input": "cifar"},
                                    {"url": "127.0.0.1:8000"}, {"warmup": -1}, {"timeout_s": 0}])
def test_config_is_bounded(change):
    cfg = ProbeConfig(**{"url": "http://127.0.0.1:1", "models": MODELS, **change})
    with pytest.raises(ValueError):
        cfg.validate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_fast_on_warmup():
    cfg = ProbeConfig(url=f"http://127.0.0.1:{free_port()}", models=MODELS, requests=5, warmup=1, input="random",
                      timeout_s=5)
    with pytest.raises(RuntimeError, match="failed all 1 warm-up requests; first: connect"):
        run_probe(cfg, progress=False)
    cfg.warmup = 0
    report = run_probe(cfg, progress=False)
    assert report["models"]["mlp"]["status_counts"] == {"connect": 5}


# --- against a real server ------------------------------------------------------------------------------------

def tiny_repository(root: Path) -> Path:
    """Two linear ONNX models named like the shipped ones, in the contract's repository layout (no torch)."""
    onnx = pytest.importorskip("onnx")
    import hashlib

    from onnx import TensorProto, helper, numpy_helper

    from tests.service.conftest import CONFIG_PBTXT, _metadata

    entries = []
    for seed, name in enumerate(MODELS):
        rng = np.random.default_rng(seed)
        weights = numpy_helper.from_array(rng.normal(0, 0.1, (784, 10)).astype(np.float32), "w")
        graph = helper.make_graph(
            [helper.make_node("Flatten", ["images"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
            name, [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 1, 28, 28])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], [weights])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
        onnx.checker.check_model(model, full_check=True)
        vdir = root / name / "1"
        vdir.mkdir(parents=True)
        (vdir / "model.onnx").write_bytes(model.SerializeToString())
        sha = hashlib.sha256((vdir / "model.onnx").read_bytes()).hexdigest()
        meta = _metadata(name, "linear", 7840, sha)
        (vdir / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        (root / name / "config.pbtxt").write_text(CONFIG_PBTXT.format(name=name))
        entries.append({"name": name, "version": "1", "path": f"{name}/1/model.onnx", "sha256": sha})
    (root / "index.json").write_text(json.dumps({"models": entries}, indent=2, sort_keys=True))
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Base URL of `kanserve serve` running in a subprocess; stopped (SIGTERM) after the module."""
    import httpx

    pytest.importorskip("service.app", reason="service.app (the server) is not available")
    shipped = (SHIPPED / "index.json").exists()
    repo = SHIPPED if shipped else tiny_repository(tmp_path_factory.mktemp("repo"))
    port = free_port()
    env = {**os.environ, "KANSERVE_INTRA_OP_THREADS": "1", "KANSERVE_PROVIDER": "cpu"}
    env.pop("KANSERVE_API_KEY", None)
    log = tmp_path_factory.mktemp("server") / "log.txt"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kanserve.cli", "serve", "--host", "127.0.0.1", "--port",
                                 str(port), "--model-repository", str(repo)], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not become ready (exit {proc.poll()}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield {"url": url, "shipped": shipped}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def probe(server, data_dir, **kw) -> dict:
    cfg = {"url": server["url"], "models": MODELS, "requests": 20, "concurrency": 2, "batch_size": 2, "warmup": 2,
           "data_dir": str(data_dir), "timeout_s": 30}
    return run_probe(ProbeConfig(**{**cfg, **kw}), progress=False)


@pytest.fixture(scope="module")
def v1_report(server, data_dir):
    return probe(server, data_dir)


def test_probe_v1_against_the_service(server, v1_report):
    for name in MODELS:
        m = v1_report["models"][name]
        assert (m["ok"], m["status_counts"]) == (20, {"200": 20}), m["first_error"]
        assert 0 < m["latency"]["p50_ms"] <= m["latency"]["p99_ms"] <= m["latency"]["max_ms"]
        if server["shipped"]:
            assert m["accuracy"] >= 0.9
    (cmp,) = v1_report["comparisons"]
    assert cmp["agreement"]["n_images"] == 40
    assert cmp["latency_ratio"]["ci_low"] <= cmp["latency_ratio"]["ratio"] <= cmp["latency_ratio"]["ci_high"]
    if server["shipped"]:
        assert cmp["agreement"]["fraction"] >= 0.9


def test_probe_v2_gives_the_same_predictions(server, v1_report, data_dir):
    v2 = probe(server, data_dir, protocol="v2")
    for name in MODELS:
        assert v2["models"][name]["ok"] == 20, v2["models"][name]["first_error"]
        assert v2["models"][name]["accuracy"] == pytest.approx(v1_report["models"][name]["accuracy"], abs=1 / 40)
    random = probe(server, data_dir, protocol="v2", input="random", requests=5, concurrency=1, batch_size=3)
    assert random["models"]["mlp"]["ok"] == 5 and random["models"]["mlp"]["accuracy"] is None


def test_cli_writes_json_and_plot(server, tmp_path, capsys):
    from kanserve.cli import main

    out_json, out_png = tmp_path / "probe.json", tmp_path / "probe.png"
    main(["probe", "--url", server["url"], "--models", "mlp,fasterkan", "--requests", "6", "--concurrency", "2",
          "--batch-size", "1", "--input", "random", "--warmup", "1", "--json", str(out_json), "--plot", str(out_png),
          "--no-progress"])
    report = json.loads(out_json.read_text())
    assert report["config"]["requests"] == 6 and len(report["samples_ms"]["fasterkan"]) == 6
    out = capsys.readouterr().out
    assert "fasterkan / mlp" in out and f"wrote {out_json}" in out
    if "matplotlib is not installed" not in out:
        assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_model_is_reported_before_timing(server, data_dir):
    with pytest.raises(RuntimeError, match="'nope' failed all 2 warm-up requests; first: HTTP 404"):
        probe(server, data_dir, models=["mlp", "nope"], input="random")


def test_probe_compares_precisions(server, data_dir):
    """A/B by model × precision: mlp's int8 version against its fp32 one, by ?precision= (v1) and by version (v2)."""
    if not server["shipped"]:
        pytest.skip("no shipped int8 versions in this repository")
    for protocol in ("v1", "v2"):
        report = probe(server, data_dir, protocol=protocol, models=["mlp:int8", "mlp"], requests=10)
        assert [report["models"][m]["ok"] for m in ("mlp:int8", "mlp")] == [10, 10]
        assert report["comparisons"][0]["agreement"]["fraction"] >= 0.9
