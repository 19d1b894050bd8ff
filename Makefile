# Two commands matter: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test test-fast test-faults lint format bench bench-gpu clean
# Every test run prints its slowest tests; each test has a time limit (pyproject.toml).
# Tests run in PYTEST_WORKERS processes (pytest-xdist), a whole file to each, so a module's
# studio server or trained run is made once; much of a test's time is waiting on a worker,
# a server or a browser. PYTEST_WORKERS=0 runs them in this process, one after another.
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest --durations=20 -n $(PYTEST_WORKERS) --dist loadfile

$(VENV)/.runtime: requirements.txt requirements-hub.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-hub.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime ## start the studio on http://127.0.0.1:8501
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: $(VENV)/.dev ## the whole suite: TensorFlow backend, then the model tests on JAX
	$(PYTEST)
	KERAS_BACKEND=jax $(PYTEST) tests/models

test-fast: $(VENV)/.dev ## unit and model tests: no training runs, servers or browser
	$(PYTEST) -m "not slow"

test-faults: $(VENV)/.dev ## the fault suite alone: bad archives, images, configs, dying workers
	$(PYTEST) -m faults

lint: $(VENV)/.dev ## ruff, and the import contracts of pyproject.toml
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(VENV)/.dev ## training speed of the presets on this machine, per speed lever
	$(PY) bench/train_speed.py

bench-gpu: $(VENV)/.dev ## the same on a GPU, on JAX (install jax[cuda12] first)
	KERAS_BACKEND=jax $(PY) bench/train_speed.py --backends jax --presets keras-example,best \
		--arms float32/bytes,bfloat16/bytes --steps 20 --rounds 3

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
