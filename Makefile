# Two commands matter: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test test-fast lint format bench clean

$(VENV)/.runtime: requirements.txt requirements-hub.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-hub.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime ## start the studio on http://127.0.0.1:8501
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: $(VENV)/.dev ## the whole suite: TensorFlow backend, then the model tests on JAX
	$(PY) -m pytest
	KERAS_BACKEND=jax $(PY) -m pytest -m models

test-fast: $(VENV)/.dev ## everything but the slow end-to-end tests
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(VENV)/.dev ## training throughput of the keras-example preset on this machine
	$(PY) bench/train_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
