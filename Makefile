# PD Portal: `make run` to try it, `make test` to check it, `make bench` to measure it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PORT ?= 8000
export SANDBOX_PORT ?= 8010

.PHONY: venv run test lint format bench clean

# Two stamps: `make run` needs only the runtime (requirements.txt); test, lint and bench add the dev tools.
$(VENV)/.installed-run: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "PD Portal needs Python 3.12+, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@SECONDS=0; $(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt && echo "[make run] installed requirements.txt in $${SECONDS} s"
	@touch $@

$(VENV)/.installed: $(VENV)/.installed-run requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed-run
	$(PY) -m pdportal.devserver

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# `make bench COMPARE=df97635`, `make bench ARGS="receiver --quick"`, or `make bench -- --compare df97635`
# (GNU make rejects an unknown option such as `make bench --compare REF` before it reads this file; after `--`
# the words are goals, handed on to the bench here and otherwise ignored).
ifeq (bench,$(firstword $(MAKECMDGOALS)))
BENCH_GOAL_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
ifneq ($(BENCH_GOAL_ARGS),)
$(eval $(BENCH_GOAL_ARGS):;@:)
endif
endif

bench: venv
	$(PY) -m bench $(if $(COMPARE),--compare $(COMPARE)) $(ARGS) $(BENCH_GOAL_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .run
