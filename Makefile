# Two entry points for a fresh machine (each makes its own virtualenv once, and again only when pyproject.toml changes):
#   make serve   serving install only (no torch) + `kanserve serve` on the shipped models (CUDA if present, else CPU)
#   make test    development install (torch CPU, onnx, test tools) + the whole test suite
# Configuration is KANSERVE_* environment variables; `make serve PORT=9000` (HOST=, MODEL_REPOSITORY=) overrides them
# only when given on make's command line.
PYTHON ?= python3
VENV ?= .venv
SERVE_VENV ?= .venv-serve
# With a GPU listed by the driver, the serving install adds the [cuda] extra (CUDA 13 + cuDNN 9 from PyPI, ~1 GB).
SERVE_EXTRA := $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU ' && echo cuda || echo none)
SERVE_SPEC := $(if $(filter cuda,$(SERVE_EXTRA)),.[cuda],.)
cli_flag = $(if $(filter command line,$(origin $(1))),$(2) $($(1)))
SERVE_FLAGS = $(call cli_flag,HOST,--host) $(call cli_flag,PORT,--port) $(call cli_flag,MODEL_REPOSITORY,--model-repository)

.PHONY: serve test bench lint

# Editable, so code changes need no reinstall; the stamp names the extra, so a GPU appearing later installs it.
$(SERVE_VENV)/.installed-$(SERVE_EXTRA): pyproject.toml
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install --quiet -e '$(SERVE_SPEC)'
	touch $@

serve: $(SERVE_VENV)/.installed-$(SERVE_EXTRA)
	$(SERVE_VENV)/bin/kanserve serve$(if $(strip $(SERVE_FLAGS)), $(strip $(SERVE_FLAGS)))

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
