# Guichet: `make run` sets everything up and starts the server; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
export PORT

.PHONY: install install-dev run test test-fast lint migrate demo messages clean help

help:
	@echo "make run      set up (venv, database, demo data) and start Guichet on http://127.0.0.1:$(PORT)/"
	@echo "make install  create .venv and install Guichet"
	@echo "make test     run the whole test suite (DATABASE_URL selects the database)"
	@echo "make lint     ruff, ruff format --check, mypy, import-linter"

$(VENV)/.installed: pyproject.toml
	@scripts/system-deps.sh runtime
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	@scripts/system-deps.sh test
	$(PIP) install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

messages: install
	@cd guichet && ../$(PY) ../manage.py compilemessages -v 0

migrate: install messages
	$(PY) manage.py migrate --noinput -v 0

demo: migrate
	$(PY) manage.py demo_data --if-empty

run: demo
	$(PY) manage.py serve --port $(PORT)

test: install-dev messages
	TASKS_BACKEND=immediate $(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy guichet config
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info
