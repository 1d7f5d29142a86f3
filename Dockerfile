# syntax=docker/dockerfile:1
# kanserve serving images. Targets:
#   gpu (default)  docker build -t kanserve:gpu .               kanserve[cuda]: onnxruntime-gpu 1.31.1, CUDA 13 from PyPI
#   cpu            docker build --target cpu -t kanserve:cpu .  onnxruntime 1.31.1, for hosts without a GPU (lean)
# podman builds it too: `podman build --format docker ...` (the OCI format drops HEALTHCHECK).
#
# CUDA: onnxruntime-gpu 1.31.1 is built for CUDA 13.x + cuDNN 9 and needs an NVIDIA driver >= 580 on the host.
# Rather than an nvidia/cuda base (which would also need a Python and apt pins), both targets use the same slim
# Python base and the GPU target installs kanserve[cuda] = onnxruntime-gpu[cuda,cudnn]==1.31.1, whose extras bring
# the CUDA user-space libraries from PyPI (deploy/requirements-gpu.txt); the service preloads them
# (onnxruntime.preload_dlls), so no LD_LIBRARY_PATH. The host needs only the driver and the NVIDIA Container Toolkit.
# Serving install only: no torch.

FROM python:3.11-slim-bookworm AS base
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
    && useradd --create-home --no-log-init --uid 10001 --user-group kanserve

# Builds the kanserve wheel from the project root (the same package `make serve` installs with `pip install .`).
FROM base AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY models/ models/
COPY export/ export/
COPY service/ service/
COPY bench/ bench/
COPY kanserve/ kanserve/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# Shared runtime config, inherited by cpu and gpu. host/port/model repository are fixed by CMD (mount models at
# /models); every other setting is a KANSERVE_* environment variable.
FROM base AS runtime
ENV KANSERVE_MODEL_REPOSITORY=/models \
    KANSERVE_HOST=0.0.0.0 \
    KANSERVE_PORT=8000 \
    KANSERVE_SHUTDOWN_TIMEOUT_S=10
WORKDIR /home/kanserve
EXPOSE 8000
# uvicorn drains in-flight requests on SIGTERM for up to KANSERVE_SHUTDOWN_TIMEOUT_S, then exits 0.
STOPSIGNAL SIGTERM
# Readiness, not liveness: 200 only once every model is loaded and warmed. No curl in the slim image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v2/health/ready', timeout=2)"]
# The same command as `make serve`; `docker run IMAGE probe ...` runs other subcommands.
ENTRYPOINT ["kanserve"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--model-repository", "/models"]

FROM runtime AS cpu
# Dependencies first, in their own layer: code changes do not reinstall them.
COPY deploy/requirements-cpu.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
# --no-deps: on Linux kanserve names onnxruntime-gpu (350 MB, CUDA kernels); this image has the 64 MB CPU build of
# the same module instead. pip_check.py allows exactly that swap and nothing else.
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    --mount=type=bind,source=deploy/pip_check.py,target=/tmp/pip_check.py \
    pip install --no-cache-dir --no-deps /dist/kanserve-*.whl \
    && python /tmp/pip_check.py --replaced onnxruntime-gpu=onnxruntime
COPY model_repository/ /models/
ENV KANSERVE_PROVIDER=cpu
USER 10001:10001

FROM runtime AS gpu
COPY deploy/requirements-gpu.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
# kanserve[cuda] with its dependencies (all already pinned above, so nothing new is fetched), then a plain pip check.
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    --mount=type=bind,source=deploy/pip_check.py,target=/tmp/pip_check.py \
    pip install --no-cache-dir "$(ls /dist/kanserve-*.whl)[cuda]" \
    && python /tmp/pip_check.py
COPY model_repository/ /models/
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    KANSERVE_PROVIDER=cuda
USER 10001:10001
