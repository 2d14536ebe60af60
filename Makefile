# Guichet: `make run` sets everything up and starts the server; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
export PORT

.PHONY: install install-dev run test lint migrate demo messages screenshot clean help

help:
	@echo "make run      set up (venv, database, demo data) and start Guichet on http://localhost:$(PORT)/"
	@echo "make install  create .venv and install Guichet (and missing Debian packages)"
	@echo "make test     run the whole test suite (DATABASE_URL selects the database)"
	@echo "make lint     ruff, ruff format --check, mypy, import-linter"
	@echo "make clean    remove .venv (the data in var/ is kept)"

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Guichet needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) --version))." >&2; exit 1; }
	@PYTHON=$(PYTHON) scripts/system-deps.sh runtime
	@test -x $(PY) || { echo "Creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "Installing Guichet and its Python dependencies into $(VENV)"
	@$(PIP) install -q --disable-pip-version-check --upgrade pip
	@$(PIP) install -q --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	@PYTHON=$(PYTHON) scripts/system-deps.sh test
	@echo "Installing the development tools into $(VENV)"
	@$(PIP) install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Compile translations (*.mo are not committed); nothing to do while there are none.
messages: install
	@if find guichet -name '*.po' | grep -q .; then \
	  cd guichet && ../$(PY) ../manage.py compilemessages -v 0; fi

migrate: install messages
	@$(PY) manage.py migrate --noinput -v 0

demo: migrate
	@$(PY) manage.py demo_data --if-empty

run: demo
	@$(PY) manage.py serve --port $(PORT)

test: install-dev messages
	TASKS_BACKEND=immediate $(PY) -m pytest -q

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy guichet config
	$(VENV)/bin/lint-imports

# Needs a running server (make run) and the dev tools: saves docs/screenshot-inbox.png.
screenshot: install-dev
	$(PY) scripts/screenshot.py --url http://localhost:$(PORT)/

clean:
	rm -rf $(VENV) build *.egg-info
