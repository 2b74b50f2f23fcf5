# SSPINNpose edge: the two commands a newcomer needs are `make demo` and `make test`.
# Everything installs itself: a virtual environment in .venv (pinned by constraints.txt)
# and Debian's mosquitto broker for the tests.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= edge,train,dev,demo
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install mosquitto chromium test test-fast lint bench bench-shards demo constraints clean default-model default-report default-bundle

help:
	@echo "make test       install everything and run the whole test suite (what CI runs)"
	@echo "make test-fast  the suite without tests marked slow"
	@echo "make lint       ruff"
	@echo "make bench      benchmarks, JSON to stdout and bench.json"
	@echo "make bench-shards  shard cache on 10 h of synthetic recordings (minutes), bench-shards.json"
	@echo "make demo       live dashboard: broker + simulated device on real IMU data (DEMO_SECONDS=N stops after N s, DEMO_CONFIG=FILE your settings)"
	@echo "make default-model   re-train the shipped model (train/models/default) and its report"
	@echo "make default-bundle  re-convert it to the shipped bundle (int8 weights) (edge/models/default.sspinn)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) scripts/check_python.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

mosquitto:
	@bash scripts/ensure_mosquitto.sh

# Debian's chromium + chromedriver for the real-browser dashboard test.
chromium:
	@bash scripts/ensure_chromium.sh

test: install mosquitto chromium
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install mosquitto
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) scripts/bench.py --out bench.json

# 10 h of synthetic recordings → shard cache → streamed windows vs the CSV path (minutes).
bench-shards: install
	$(PY) scripts/bench.py --only train.data.shards_bench --out bench-shards.json

# The live demo: broker + dashboard + sspinn-edge simulate (walking, then running).
# Ctrl-C stops it; DEMO_SECONDS=N stops it after N seconds; DEMO_CONFIG=FILE runs the
# simulated device with your daemon config (e.g. Home Assistant discovery).
DEMO_SECONDS ?=
DEMO_CONFIG ?=
demo: install
	$(PY) -m dashboard.demo $(if $(DEMO_SECONDS),--seconds $(DEMO_SECONDS)) $(if $(DEMO_CONFIG),--config $(DEMO_CONFIG))

# The shipped default model: trained without labels, copied into the package, evaluated.
default-model: install
	rm -rf runs/default
	$(VENV)/bin/sspinn-train --config train/configs/default.toml --out runs/default --no-eval
	rm -rf train/models/default
	mkdir -p train/models/default
	cp runs/default/checkpoint/checkpoint.json runs/default/checkpoint/model.weights.h5 train/models/default/
	cp runs/default/history.json train/models/default/history.json
	$(MAKE) default-report

# The evaluation report of the shipped model (JSON + PNG per data set).
default-report: install
	$(PY) -m train.report train/models/default train/models/default/eval

# The shipped bundle (int8 weights, float activations: "dynamic"), converted from the
# shipped default model, with its report.
default-bundle: install
	mkdir -p edge/models
	$(VENV)/bin/sspinn-convert train/models/default --quantize dynamic --out edge/models/default.sspinn \
		--report edge/models/default.report.json

# Regenerate the pinned versions after changing dependencies in pyproject.toml.
constraints:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache bench.json bench-shards.json
