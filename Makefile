# Campus help desk. `make help` lists the targets.
SHELL := /bin/bash
APP := .venv/app/bin
RASA := .venv/rasa/bin
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.DEFAULT_GOAL := help
.PHONY: help setup db train run test test-py validate test-stories lint clean eval bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## create both Python 3.10 environments from the pinned requirements (idempotent)
	@scripts/setup.sh app rasa

db: setup ## migrate the database and seed the sample university when empty
	@$(APP)/helpdesk db upgrade
	@$(APP)/helpdesk db seed

train: setup ## train the Rasa model if config.yml, domain.yml or bot/ changed
	@scripts/train.sh >/dev/null

run: db train ## set up everything and run the help desk (web chat on http://127.0.0.1:8000/)
	@HELPDESK_MODEL=$$(scripts/train.sh 2>/dev/null) $(APP)/helpdesk run

validate: train ## check the Rasa training data
	@$(RASA)/rasa data validate --config config.yml --domain domain.yml --data bot/data --fail-on-warnings >var/validate.log 2>&1 \
	  || { cat var/validate.log; exit 1; }
	@echo "rasa data validate: ok"

test-stories: train ## run the Rasa story tests on the trained model
	@$(RASA)/rasa test core --model $$(scripts/train.sh 2>/dev/null) --stories tests/stories \
	  --out var/results --fail-on-prediction-errors >var/test-stories.log 2>&1 \
	  || { tail -n 60 var/test-stories.log; exit 1; }
	@echo "rasa story tests: $$(grep -m1 -A1 'CONVERSATION level' var/test-stories.log | grep -o 'Correct:.*' ) conversations"

test-py: setup train ## run pytest (unit, e2e and browser tests)
	@scripts/setup.sh browser
	@HELPDESK_MODEL=$$(scripts/train.sh 2>/dev/null) $(APP)/python -m pytest -q -p no:cacheprovider

test: validate test-stories test-py ## set up and run every test (Rasa data validation, story tests, pytest)

lint: setup ## ruff (lint + format check), mypy, import directions (.importlinter), deploy/ files
	@$(APP)/ruff check . && $(APP)/ruff format --check .
	@$(APP)/mypy
	@$(APP)/lint-imports --no-logo --no-cache
	@$(APP)/python scripts/check_deploy.py

KB ?= ../shared/benchmarks/campus/kb.yml
BENCH := ../shared/benchmarks/campus
DATA ?= $(BENCH)/dev_faq.jsonl $(BENCH)/dev_dialogue.jsonl $(BENCH)/dev_robust.jsonl $(BENCH)/dev_everyday.jsonl
OUT ?= var/eval/report.json
eval: train ## measure understanding, per set and overall: make eval KB=<kb.yml> DATA="<a.jsonl> [...]" OUT=<report.json>
	@$(APP)/helpdesk eval --kb $(KB) --data $(DATA) --out $(OUT) --errors $(basename $(OUT)).errors.jsonl \
	  --model $$(scripts/train.sh 2>/dev/null)

bench: train ## measure load: make bench ARGS="--quick | --soak 30m | --profile | --help" (report in var/bench/)
	@HELPDESK_MODEL=$$(scripts/train.sh 2>/dev/null) $(APP)/python -m benchmarks.load $(ARGS)

clean: ## remove runtime data (database, models, logs) but keep the environments
	rm -rf var
