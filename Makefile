# Two entry points for a fresh machine (each makes its own virtualenv):
#   make serve   serving install only (no torch) + `kanserve serve` on the shipped models (CUDA if present, else CPU)
#   make test    development install (torch CPU, onnx, test tools) + the whole test suite
PYTHON ?= python3
VENV ?= .venv
SERVE_VENV ?= .venv-serve
HOST ?= 127.0.0.1
PORT ?= 8000
MODEL_REPOSITORY ?= model_repository

.PHONY: serve test bench lint

serve:
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install --quiet .
	$(SERVE_VENV)/bin/kanserve serve --host $(HOST) --port $(PORT) --model-repository $(MODEL_REPOSITORY)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

test: $(VENV)/.installed
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(VENV)/bin/kanserve bench
