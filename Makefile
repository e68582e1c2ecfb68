# The one door: make run | test | lint | bench. Everything installs from this repo's own files.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency at an exact version with its hashes (`make lock` writes both anew); the
# image installs requirements.lock, without the dev extra.
LOCK ?= requirements-dev.lock
FLASK := $(BIN)/flask --app service
HOST ?= 127.0.0.1
PORT ?= 5000
# Where mails and in-app links point: by default the address `make run` serves on, so that
# `make run PORT=5077` mails links to port 5077 (0.0.0.0 listens everywhere: link localhost).
PUBLIC_URL ?= http://$(if $(filter 0.0.0.0,$(HOST)),localhost,$(HOST)):$(PORT)
# Thai UI strings: the .po is kept in git, the .mo is compiled from it whenever it is newer.
PO := service/translations/th/LC_MESSAGES/messages.po
MO := $(PO:.po=.mo)

.PHONY: run test lint format bench install lock messages migrate demo-data web worker worker-ping beat clean

# Exact versions (with their hashes) from the lock, then the project itself without deps.
$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## lock: pin every dependency of pyproject.toml with its hashes: requirements.lock (what the
## image runs) and requirements-dev.lock (with the dev extra: what `make install` installs).
## Pins that still fit are kept; LOCK_ARGS=--upgrade takes the newest allowed of everything,
## LOCK_ARGS="-P flask" of one. Commit both files.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip-tools
	for extra in "" dev; do \
		CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet \
			--generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
			--no-emit-find-links $${extra:+--extra $$extra} $(LOCK_ARGS) \
			--output-file requirements$${extra:+-$$extra}.lock pyproject.toml || exit 1; \
	done

$(MO): $(PO) | $(STAMP)
	$(BIN)/python -m service.core.i18n

## messages: extract the UI strings and merge them into the Thai catalog (then translate the new ones)
messages: $(STAMP)
	mkdir -p build
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d service/translations --no-fuzzy-matching --width 100 --ignore-obsolete

install: $(STAMP) $(MO)

migrate: $(STAMP) $(MO)
	$(FLASK) db upgrade

demo-data: migrate
	$(FLASK) demo-data

## run: migrate, load the demo, start web + worker + beat (Ctrl-C stops all three); the
## Procfile starts a worker or beat that exits (kombu can die with its Redis) again
run: demo-data
	@echo
	@echo "  Tidtam: http://$(HOST):$(PORT)/   (Ctrl-C stops web, worker and beat)"
	@echo
	HOST=$(HOST) PORT=$(PORT) PUBLIC_URL='$(PUBLIC_URL)' $(BIN)/honcho -f Procfile start

## web: gunicorn with a worker per core (measured: the pages are CPU-bound, and 2 x cores + 1
## workers served fewer requests a second with twice the memory); a statement is cancelled at
## 25 s, before the worker's 30 s timeout kills the request; queries run on one core each;
## gunicorn's sync worker answering an over-long request line in problem+json (service.ops.web_worker)
web: $(STAMP) $(MO)
	DATABASE_STATEMENT_TIMEOUT_MS=$${DATABASE_STATEMENT_TIMEOUT_MS:-25000} \
	DATABASE_PARALLEL_WORKERS=$${DATABASE_PARALLEL_WORKERS:-0} \
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-$$(nproc)} --timeout 30 --access-logfile - \
	  --worker-class service.ops.web_worker.ProblemWorker 'service:create_app()'

worker: $(STAMP) $(MO)
	$(BIN)/celery -A workers.app worker --loglevel INFO --concurrency $${WORKER_CONCURRENCY:-2}

worker-ping: $(STAMP)
	$(BIN)/celery -A workers.app inspect ping --timeout 5

beat: $(STAMP)
	$(BIN)/celery -A workers.app beat --loglevel INFO --schedule $${BEAT_SCHEDULE_FILE:-$${TIDTAM_INSTANCE:-instance}/celerybeat-schedule}

## test: the whole suite (SQLite and the embedded broker unless TEST_DATABASE_URL / TEST_REDIS_URL say otherwise)
test: $(STAMP) $(MO)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
