# kalshi_mm — make help lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= config.yaml
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run check-config test lint format bench chaos fuzz clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

# The venv is rebuilt when a requirements file changes; the stamp records the last good install.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## Create .venv and install requirements (only when needed)

# With no credentials it paper-trades on the embedded exchange, in the config's mode (volatility: events,
# sessions and fills within a minute on the default simulated market). MODE=discovery runs the other mode.
MODE ?=
run: venv ## Run the daemon (embedded exchange when no credentials are set); MODE=discovery, ARGS="--duration 120"
	$(PY) runner.py --config $(CONFIG) $(if $(MODE),--mode $(MODE)) $(ARGS)

check-config: venv ## Validate config.yaml and print the effective config (secrets masked)
	$(PY) runner.py --config $(CONFIG) --check-config

# Test modules run in parallel worker processes (a module's tests stay together: module fixtures run once);
# tests marked serial measure real-time budgets and run alone afterwards.
TEST_WORKERS ?= 3
test: venv ## Lint (ruff) and run the whole test suite (TEST_WORKERS=3 parallel workers)
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope -m "not serial"
	$(PY) -m pytest -m serial

lint: venv ## ruff check + ruff format --check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv ## Apply ruff's formatter and autofixes
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: venv ## Run the benchmarks in bench/ (figures, not pass/fail)
	@for b in bench/bench_*.py; do echo "== $$b"; PYTHONPATH=. $(PY) $$b || exit 1; done

# The chaos suite's long profile: the daemon SIGKILLed and restarted 14 times under every injected fault, about
# 15-20 minutes; prints the fault counts and violations (the short profile runs in make test). Each run's database,
# logs and captured output stay in a new directory under data/chaos.
chaos: venv ## Long chaos run (tests/chaos, CHAOS_PROFILE=long): fault counts and invariant violations
	CHAOS_PROFILE=long CHAOS_WORKDIR=data/chaos $(PY) -m pytest tests/chaos -m chaos -s

# The fuzz suite's long Hypothesis profile: thousands of hostile frames and bodies per target (the default profile,
# a few hundred per target, runs in make test); prints the cases run and rejected per target.
fuzz: venv ## Long fuzz run (tests/fuzz, HYPOTHESIS_PROFILE=long): cases run and rejected per target
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/fuzz -m fuzz

clean: ## Remove the venv and caches (keeps data/ and logs/)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
