# SSPINNpose edge: the two commands a newcomer needs are `make demo` and `make test`.
# Everything installs itself: a virtual environment in .venv (pinned by constraints.txt)
# and Debian's mosquitto broker for the tests.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= edge,train,dev
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install mosquitto test test-fast lint bench demo constraints clean

help:
	@echo "make test       install everything and run the whole test suite (what CI runs)"
	@echo "make test-fast  the suite without tests marked slow"
	@echo "make lint       ruff"
	@echo "make bench      benchmarks, JSON to stdout and bench.json"
	@echo "make demo       (not yet available: see README)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) scripts/check_python.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

mosquitto:
	@bash scripts/ensure_mosquitto.sh

test: install mosquitto
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install mosquitto
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) scripts/bench.py --out bench.json

# Regenerate the pinned versions after changing dependencies in pyproject.toml.
constraints:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache bench.json
