# syntax=docker/dockerfile:1
# kanserve serving images. Targets:
#   gpu (default)  docker build -t kanserve:gpu .               onnxruntime-gpu 1.31.1, CUDA EP
#   cpu            docker build --target cpu -t kanserve:cpu .  onnxruntime 1.31.1, for hosts without a GPU
#
# CUDA: onnxruntime-gpu 1.31.1 is built for CUDA 13.x + cuDNN 9 and needs an NVIDIA driver >= 580 on the host.
# Rather than an nvidia/cuda base (e.g. nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04, which would also need a
# Python and apt pins), both targets use the same slim Python base and the GPU target installs
# onnxruntime-gpu[cuda,cudnn]==1.31.1, whose extras pin the CUDA user-space libraries from PyPI
# (deploy/requirements-gpu.txt: cuda-runtime/nvrtc 13.5.37, cublas 13.10.0.20, cudnn-cu13 9.28.1.4).
# The host needs only the driver and the NVIDIA Container Toolkit. Serving install only: no torch.

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
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    pip install --no-cache-dir --no-deps /dist/kanserve-*.whl \
    && pip check
COPY model_repository/ /models/
ENV KANSERVE_PROVIDER=cpu
USER 10001:10001

FROM runtime AS gpu
COPY deploy/requirements-gpu.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
# --no-deps: kanserve's metadata names onnxruntime (CPU), which conflicts with onnxruntime-gpu; the pinned
# requirements file is the whole dependency set. No `pip check` here for the same reason.
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    pip install --no-cache-dir --no-deps /dist/kanserve-*.whl \
    && python -c "import importlib.metadata as m; d = {x.metadata['Name'].lower() for x in m.distributions()}; \
assert 'onnxruntime-gpu' in d and 'onnxruntime' not in d, 'need onnxruntime-gpu and no onnxruntime'"
COPY model_repository/ /models/
# CUDA 13 pip wheels put their libraries in nvidia/cu13/lib, cuDNN in nvidia/cudnn/lib; ORT's CUDA EP
# dlopen()s them by name, so they go on the loader path (otherwise ORT silently falls back to CPU).
ENV LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/nvidia/cu13/lib:/opt/venv/lib/python3.11/site-packages/nvidia/cudnn/lib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    KANSERVE_PROVIDER=cuda
USER 10001:10001
