# Two entry points: `make run` (install, build the index if missing, start the app) and
# `make test` (install with the dev extras, run every test). Both work on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1

.PHONY: run test install install-dev system-deps deploy-deps ingest app eval bench clean audit deploy-check

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The app's own dependencies (no torch).
$(VENV)/.run-deps: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

# Tests: sentence-transformers (torch 2.13.0 is a CPU build on this machine's disk; installed
# first so nothing pulls a CUDA build), llama-cpp-python's server (compiles ~10 min), pytest.
# llama.cpp is built for AVX2 rather than for the build host's CPU: a native build used AMX
# instructions that a host advertised and then trapped on (invalid opcode in libggml-cpu).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(VENV)/.llama-portable: | $(PY)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q --no-cache-dir --force-reinstall --no-deps \
	  "$$(grep -o 'llama-cpp-python\[server\][^"]*' pyproject.toml)"
	touch $@

$(VENV)/.dev-deps: pyproject.toml | $(PY) $(VENV)/.llama-portable
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,st,llm]'
	touch $@ $(VENV)/.run-deps

install: $(VENV)/.run-deps
install-dev: $(VENV)/.dev-deps

# apt-get install $(1) unless the shell test $(2) passes; only where apt-get can be used as root.
apt_install = if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && ! ( $(2) ); then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; fi

# Chromium (browser tests) and a CJK font (plots), plus deploy-deps (tests/test_deploy.py).
system-deps: deploy-deps
	@$(call apt_install,chromium fonts-noto-cjk,command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi cjk)

# nginx and PostgreSQL 15's binaries (the deploy check); Debian's packages start no service in a
# container.
deploy-deps:
	@$(call apt_install,nginx postgresql-15,{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } && [ -x /usr/lib/postgresql/15/bin/initdb ])

ingest: install
	$(PY) -m rag ingest

app: install
	$(PY) app.py

run: install
	$(PY) -m rag ingest   # a no-op (under 1 s) when the corpus and settings are unchanged
	$(PY) app.py

test: install-dev system-deps
	$(PY) -m pytest

eval: install
	$(PY) -m rag eval --out eval/reports/latest

# A local deployment under load (docs/deployment.md): PostgreSQL, a Chroma server, 1 then 2 app
# processes behind nginx, 100 users for 60 s each, a re-ingest during the load; report in
# storage/deploy-check/.
deploy-check: install deploy-deps
	$(PY) -m rag.deploy.check --users 100 --seconds 60 --apps 2

bench: install
	$(PY) -m rag bench --out bench/out

# Known-vulnerability check of the installed dependencies (PyPI advisory data; needs network).
# Packages PyPI has no record of (local builds, versions not published there) are listed as
# "could not be audited" and do not fail the target.
audit: | $(PY)
	@$(PY) -m pip_audit --version >/dev/null 2>&1 || $(PIP) install -q 'pip-audit>=2.7,<3'
	$(PY) -m pip_audit --local --skip-editable --progress-spinner off

clean:
	rm -rf storage .pytest_cache
