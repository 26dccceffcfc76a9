# Math for ML, by running it. `make help` lists every target.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.install-stamp
comma  := ,
ARGS   ?=
HOST   ?= 127.0.0.1
PORT   ?= 5000
SERVER_PORT   ?= 5005
BACKEND_URI   ?= sqlite:///$(CURDIR)/mlflow-server.db
ARTIFACTS_DIR ?= $(CURDIR)/mlartifacts-server
WEEKS  := week1 week2 week3 week4
RUN_ID ?=
WEEK   ?=
TEXT   ?=
FILE   ?=
ID     ?=
# make exercise / make check: WEEK=2, or the week of ID=W2.X1, else every week
EXERCISE_WEEKS = $(or $(WEEK),$(word 1,$(subst ., ,$(subst W,,$(ID)))),1 2 3 4)

.PHONY: help install exercise check week1 week2 week3 week4 serve-week2 predict-week2 all ui server runs compare close-stale reproduce test test-slow test-all bench lint format clean

help: ## List every target with one line
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'
	@echo '  Hydra overrides go in ARGS, e.g. make week1 ARGS="patch_codec.target_bpp=0.5" or ARGS="-m low_rank.rank=20,80"'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(STAMP) ## Create .venv and install the project with its dev and bench extras (editable)

exercise: $(STAMP) ## Your turn: write exercise stubs to mine/weekN/ (WEEK=2 or ID=W2.X1); never overwrites
	@for w in $(EXERCISE_WEEKS); do package=$$(echo projects/week$${w}_*); \
		$(PY) -m common.exercises $${package//\//.} $(if $(ID),--id $(ID)) || exit $$?; done

check: $(STAMP) ## Grade your exercises with the project's reference tests (WEEK=2 or ID=W2.X1)
	@status=0; for w in $(EXERCISE_WEEKS); do package=$$(echo projects/week$${w}_*); \
		$(PY) -m common.grading $${package//\//.} tests/week$$w $(if $(ID),--id $(ID)) || status=1; \
	done; exit $$status

week1: $(STAMP) ## Week 1, linear algebra: PCA image compression
	$(PY) -m projects.week1_pca $(ARGS)

week2: $(STAMP) ## Week 2, probability: naive Bayes spam filter (ARGS="eval=cv" for 10-fold CV)
	$(PY) -m projects.week2_spam $(ARGS)

week3: $(STAMP) ## Week 3, calculus and optimization: regression trained through autograd
	$(PY) -m projects.week3_regression $(ARGS)

week4: $(STAMP) ## Week 4, information theory and geometry: decision tree, similarity search
	$(PY) -m projects.week4_tree_search $(ARGS)

serve-week2: $(STAMP) ## Serve the newest (or RUN_ID=...) week-2 filter on 127.0.0.1:5001 (SERVE_PORT=, MAX_BODY_BYTES=)
	$(PY) -m projects.week2_spam.cli $(if $(RUN_ID),--run-id $(RUN_ID)) serve --host $(HOST) --port $(or $(SERVE_PORT),5001) \
		$(if $(MAX_BODY_BYTES),--max-body-bytes $(MAX_BODY_BYTES))

predict-week2: $(STAMP) ## Classify TEXT="..." (any text) or FILE=msg.txt (FILE=-: stdin) with the newest (or RUN_ID=) week-2 filter
	$(PY) -m projects.week2_spam.cli $(if $(RUN_ID),--run-id $(RUN_ID)) predict $(if $(FILE),--file "$$FILE",-- "$$TEXT")

all: $(WEEKS) ## Run every week that exists, one after another

ui: $(STAMP) ## MLflow UI on 127.0.0.1:5000 (HOST=, PORT=) to compare runs
	@if [[ "$${MLFLOW_TRACKING_URI:-}" == http* ]]; then \
		echo "MLFLOW_TRACKING_URI is a server: open $$MLFLOW_TRACKING_URI in a browser (it serves the UI)"; exit 2; fi
	@$(PY) -m common.ui --store "$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db}" \
		--host $(HOST) --port $(PORT)

server: $(STAMP) ## Shared tracking server on 127.0.0.1:5005 (SERVER_PORT=, BACKEND_URI=postgresql://...)
	$(PY) -m common.server --host $(HOST) --port $(SERVER_PORT) \
		--backend-store-uri '$(BACKEND_URI)' --artifacts-destination '$(ARTIFACTS_DIR)'

runs: $(STAMP) ## Table of logged runs, best first: differing params, headline (WEEK=2; default every week)
	$(PY) -m common.runs $(if $(WEEK),--week $(WEEK))

compare: $(STAMP) ## Two runs side by side: what differs, headline, UI link (RUNS=id,id; default the newest two; WEEK=2)
	$(PY) -m common.compare $(subst $(comma), ,$(RUNS)) $(if $(WEEK),--week $(WEEK))

close-stale: $(STAMP) ## End RUNNING runs whose process is gone (SIGKILL, OOM) as KILLED (WEEK=2)
	$(PY) -m common.runs --close-stale $(if $(WEEK),--week $(WEEK))

reproduce: $(STAMP) ## Re-run RUN_ID=... (id or 8-digit prefix) with its overrides; compare metrics
	@test -n "$(RUN_ID)" || { echo 'RUN_ID is required: make reproduce RUN_ID=<id>; list runs with `make runs WEEK=2`' >&2; exit 2; }
	$(PY) -m common.reproduce $(RUN_ID)

# The fast set on every core (pytest-xdist); tests/conftest.py keeps the tests that share a
# module's CLI run on one worker and starts the heaviest modules first. Bytecode is cached
# even where PYTHONDONTWRITEBYTECODE is set: the suite starts dozens of Python processes
# (graders, CLI runs), each of which would compile the project and assertion-rewrite the
# test modules and pytest plugins (hydra, hypothesis) again.
test: $(STAMP) ## Fast tests (the default CI set), on every core
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n auto

test-slow: $(STAMP) ## Only the slow end-to-end tests (CI runs them after `make test`)
	$(PY) -m pytest -m slow

test-all: $(STAMP) ## Every test, including slow end-to-end ones (real server, real browser)
	$(PY) -m pytest -m ''

bench: $(STAMP) ## From-scratch vs library, timed side by side; prints ratios
	$(PY) -m benchmarks

lint: $(STAMP) ## ruff: lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## ruff: fix what can be fixed and format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## Remove run outputs and caches (keeps mlflow.db, its artifacts, .venv and your mine/)
	rm -rf outputs .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -not -path './mine/*' -prune -exec rm -rf {} +
