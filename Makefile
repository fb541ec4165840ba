# Two set-up commands: `make run` starts the studio, `make test` runs lint + tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
VOXSTUDIO_HOME ?= ./workspace
export VOXSTUDIO_HOME
PORT ?= 8501
ADDRESS ?= 127.0.0.1

.PHONY: run run-hosted test test-fast lint install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/streamlit run Home.py --server.address $(ADDRESS) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false --server.fileWatcherType none

# A shared box: sign-in (VOXSTUDIO_AUTH=password with VOXSTUDIO_PASSWORD, or oidc with .streamlit/secrets.toml
# [auth]), a private workspace per person, one training queue. HTTPS: SSL_CERT/SSL_KEY, or a reverse proxy.
AUTH ?= $(or $(VOXSTUDIO_AUTH),password)
HOSTED_ADDRESS ?= 0.0.0.0
run-hosted: install
	VOXSTUDIO_AUTH=$(AUTH) $(BIN)/python -c "from voxstudio import hosting; p = hosting.config_problems(); \
		p and (print(*p) or exit(1))"
	VOXSTUDIO_AUTH=$(AUTH) $(BIN)/streamlit run Home.py --server.address $(HOSTED_ADDRESS) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false --server.fileWatcherType none \
		--server.enableXsrfProtection true --server.enableCORS true --server.maxUploadSize 200 \
		$(if $(SSL_CERT),--server.sslCertFile $(SSL_CERT) --server.sslKeyFile $(SSL_KEY))

lint: install-dev
	$(BIN)/ruff check .

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The inner loop: lint + every test that neither trains a model nor drives a browser (under a minute or so).
test-fast: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow and not browser" -q

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/vad.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/eval_batching.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
