# Two commands: `make run` (set up and serve) and `make test` (set up and test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup db bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

setup: $(VENV)/.installed

db: setup
	$(FLASK) db upgrade
	$(FLASK) policies publish
	$(FLASK) demo load

run: db
	@echo
	@echo "  consentmgr is starting on http://$(HOST):$(PORT)/"
	@echo "    home page:       http://$(HOST):$(PORT)/"
	@echo "    staff screens:   http://$(HOST):$(PORT)/staff/  (demo logins, one per role:)"
	@echo "      agent  agent@northwind.example  password: demo-agent-password"
	@echo "      dpo    dpo@northwind.example    password: demo-dpo-password"
	@echo "      admin  admin@northwind.example  password: demo-admin-password"
	@echo "      6-digit code: $(FLASK) staff totp-code --email agent@northwind.example"
	@echo
	$(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/field_encryption.py
	$(BIN)/python benchmarks/export.py

clean:
	rm -rf $(VENV) instance/consentmgr.db
