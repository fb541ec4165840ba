# Two set-up commands: `make run` starts the studio, `make test` runs lint + tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
VOXSTUDIO_HOME ?= ./workspace
export VOXSTUDIO_HOME
PORT ?= 8501
ADDRESS ?= 127.0.0.1

.PHONY: run test test-fast lint install install-dev bench clean

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
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
