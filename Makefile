# asl-airflow: `make run` runs the ML training pipeline end to end on the local stack;
# `make test` runs the test suite. Both set everything up from nothing (uv, .venv, pinned deps).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
DAG ?= ml_training
CONF ?=
PYTEST_ARGS ?=

export UV_PROJECT_ENVIRONMENT := $(VENV)
export PYTHONPATH := $(CURDIR)

.PHONY: help venv run up test test-all test-unit deployment lint bench conformance fuzz sagemaker-images clean

help:
	@echo "make run [DAG=ml_training] [CONF='{...}']  run a DAG end to end on the local stack (moto + SQLite)"
	@echo "make up                                   airflow standalone on the local stack (UI on :8080)"
	@echo "make test                                 the whole test suite (what CI runs)"
	@echo "make test-unit                            the fast tests (no Airflow DB, no AWS endpoint)"
	@echo "make deployment [REPEAT=3]                the real-deployment tests (PostgreSQL; Celery on Redis), REPEAT rounds"
	@echo "make fuzz [FUZZ_SECONDS=600] [FUZZ_CASES=N] [FUZZ_SEED=1]  the mutation fuzzer (make test runs its first 400 cases)"
	@echo "make lint | bench | sagemaker-images | clean"

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --compile-bytecode
	@# the editable build leaves plugins/asl_airflow.egg-info, and plugins/ is on sys.path (the .pth):
	@# a second distribution with the same entry points, so Airflow loaded the plugin twice
	@# ("Plugin 'asl_airflow' already registered, skipping": an import error on the home page)
	rm -rf plugins/*.egg-info
	$(PY) -m compileall -q plugins dags include tests bench >/dev/null || true
	touch $@

venv: $(VENV)/.synced

run: venv
	$(PY) -m asl_airflow.cli local run $(DAG) $(if $(CONF),--conf '$(CONF)')

up: venv
	$(PY) -m asl_airflow.cli local up

test: venv
	$(PY) -m pytest --durations=30 $(PYTEST_ARGS)

# everything, the minutes-long checks included (all six crash families, the EventBridge callback wait)
test-all: venv
	ASL_ALL_TESTS=1 $(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

REPEAT ?= 3
deployment: venv
	ASL_DEPLOYMENT=1 ASL_DEPLOY_REPEAT=$(REPEAT) $(PY) -m pytest tests/deployment -s -rs $(PYTEST_ARGS)

# the seeded mutation fuzzer (tests/fuzz/fuzzer.py): definitions from the corpus and include/asl through
# validation, the local engine and the compiler; exits 1 with the findings. `make test` runs its first 400 cases.
FUZZ_SECONDS ?= 600
FUZZ_CASES ?=
FUZZ_SEED ?= 1
fuzz: venv
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_CASES=$(FUZZ_CASES) FUZZ_SEED=$(FUZZ_SEED) $(PY) tests/fuzz/fuzzer.py

conformance: venv
	ASL_EQUIVALENCE=all $(PY) -m pytest tests/conformance $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check plugins dags include tests bench

bench: venv
	$(PY) bench/parse.py
	$(PY) bench/interpreter.py
	$(PY) bench/compile.py
	$(PY) bench/deployment.py

sagemaker-images: venv
	$(PY) include/scripts/sagemaker_images.py

clean:
	rm -rf $(VENV) $(TOOLS) .airflow .local .pytest_cache
