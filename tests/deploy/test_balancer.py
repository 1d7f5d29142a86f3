"""Replicas behind a balancer, for real: two `kanserve serve` processes on loopback behind Debian's nginx running the
project's own deploy/nginx/kanserve.conf (only the upstream addresses and the listen port rendered for the test).
Load goes through nginx; one replica is SIGKILLed mid-run and no request may fail; then it comes back and nginx
sends it traffic again. Skips locally without nginx, fails under CI=true."""
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.deploy import servers
from tests.deploy.tools import require

CONF = REPO_ROOT / "deploy" / "nginx" / "kanserve.conf"
BODY = {"images": [np.random.default_rng(0).integers(0, 256, (28, 28)).tolist()]}
CLIENTS, LOAD_S, KILL_AT_S, MAX_REQUESTS = 4, 6.0, 2.0, 3000


def render(conf: str, listen: int, replicas: list[int]) -> str:
    """The shipped config with its one upstream server line repeated per loopback replica (same parameters) and
    its listen port moved to loopback. Anything else in the file is used as shipped."""
    server = re.findall(r"^(\s*)server\s+kanserve-replica:8000\b([^;]*);\n", conf, re.MULTILINE)
    listens = re.findall(r"listen\s+8080;", conf)
    assert len(server) == 1 and len(listens) == 1, "deploy/nginx/kanserve.conf changed shape: update render()"
    indent, params = server[0]
    lines = "".join(f"{indent}server 127.0.0.1:{port}{params};\n" for port in replicas)
    conf = re.sub(r"^\s*server\s+kanserve-replica:8000\b[^;]*;\n", lambda _: lines, conf, flags=re.MULTILINE)
    return conf.replace("listen 8080;", f"listen 127.0.0.1:{listen};")


def nginx_main(workdir: Path, site: Path, root: bool) -> str:
    """A minimal main config around the site file, logging which upstream(s) served each request."""
    temps = "".join(f"    {kind}_temp_path {workdir / kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
    return (f"{'user root;' if root else ''}\ndaemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
            f"error_log {workdir / 'error.log'} warn;\nevents {{ worker_connections 512; }}\nhttp {{\n"
            "    log_format upstreams '$status $request_method $uri \"$upstream_addr\" \"$upstream_status\"';\n"
            f"    access_log {workdir / 'access.log'} upstreams;\n{temps}    include {site};\n}}\n")


def access_log(workdir: Path) -> list[tuple[int, str, list[str]]]:
    rows = []
    for line in (workdir / "access.log").read_text().splitlines():
        m = re.match(r'(\d+) (\S+) (\S+) "([^"]*)"', line)
        rows.append((int(m.group(1)), m.group(3), [a.strip() for a in m.group(4).split(",") if a.strip() != "-"]))
    return rows


def drive(url: str, stop: threading.Event, results: Counter, lock: threading.Lock) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set() and sum(results.values()) < MAX_REQUESTS:
            try:
                status = client.post("/v1/models/fasterkan/predict", json=BODY).status_code
            except httpx.HTTPError as e:
                status = type(e).__name__
            with lock:
                results[status] += 1


@pytest.fixture
def cluster(tmp_path):
    nginx = require("nginx")
    replicas = {port: servers.start(port, tmp_path) for port in (servers.free_port(), servers.free_port())}
    lb_port = servers.free_port()
    site = tmp_path / "kanserve.conf"
    site.write_text(render(CONF.read_text(), lb_port, list(replicas)))
    main = tmp_path / "nginx.conf"
    main.write_text(nginx_main(tmp_path, site, root=shutil.os.geteuid() == 0))
    lb = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(main)], stderr=subprocess.PIPE, text=True)
    try:
        for port, proc in replicas.items():
            servers.wait_ready(f"http://127.0.0.1:{port}", proc)
        _wait_lb(f"http://127.0.0.1:{lb_port}", lb)
        yield tmp_path, f"http://127.0.0.1:{lb_port}", replicas
    finally:
        lb.terminate()
        lb.wait(10)
        lb.stderr.close()
        for proc in replicas.values():
            servers.stop(proc)


def _wait_lb(url: str, lb: subprocess.Popen) -> None:
    for _ in range(100):
        if lb.poll() is not None:
            raise RuntimeError(f"nginx exited: {lb.stderr.read()}")
        try:
            if httpx.get(f"{url}/lb/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("nginx did not answer /lb/health")


def test_render_keeps_the_shipped_config():
    conf = CONF.read_text()
    out = render(conf, 18080, [18001, 18002])
    assert "server 127.0.0.1:18001 max_fails=3 fail_timeout=10s;" in out and "127.0.0.1:18002" in out
    assert "kanserve-replica:8000" not in out and "listen 127.0.0.1:18080;" in out
    assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in out


@pytest.mark.timeout(240)
def test_a_replica_killed_under_load_costs_no_request_and_comes_back(cluster):
    workdir, url, replicas = cluster
    victim = next(iter(replicas))
    results, lock, stop = Counter(), threading.Lock(), threading.Event()
    clients = [threading.Thread(target=drive, args=(url, stop, results, lock)) for _ in range(CLIENTS)]
    for c in clients:
        c.start()
    time.sleep(KILL_AT_S)
    replicas[victim].kill()  # SIGKILL: in-flight requests and kept-alive connections die with it
    replicas[victim].wait()
    time.sleep(LOAD_S - KILL_AT_S)
    stop.set()
    for c in clients:
        c.join(60)
    assert set(results) == {200}, f"failed requests through nginx: {dict(results)}"
    log = access_log(workdir)
    posts = [upstreams for status, uri, upstreams in log if uri.startswith("/v1/")]
    assert sum(results.values()) == len(posts) >= 100
    before = [u for u in posts if u == [f"127.0.0.1:{victim}"]]
    retried = [u for u in posts if len(u) == 2 and u[0] == f"127.0.0.1:{victim}"]
    assert before, "the victim served nothing before it was killed: the test did not test a failover"
    assert retried, "no request was retried on the survivor: the kill hit no request or connection"

    replicas[victim] = servers.start(victim, workdir)  # the same address, as a restarted container would be
    servers.wait_ready(f"http://127.0.0.1:{victim}", replicas[victim])
    served_by_victim, deadline = 0, time.monotonic() + 30  # nginx retries a failed server after fail_timeout (10 s)
    with httpx.Client(base_url=url, timeout=10) as client:
        while served_by_victim == 0 and time.monotonic() < deadline:
            assert client.post("/v1/models/fasterkan/predict", json=BODY).status_code == 200
            time.sleep(0.05)
            served_by_victim = sum(1 for _, _, u in access_log(workdir)[len(log):] if u == [f"127.0.0.1:{victim}"])
    assert served_by_victim, "the restarted replica got no traffic from nginx within 30 s"
