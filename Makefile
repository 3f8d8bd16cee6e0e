# Two commands: `make run` (set up and serve) and `make test` (set up and test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup db bench lock clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions, every file's SHA-256):
# the same packages on every machine, and a tampered download is refused.
# `make lock` regenerates them after a change to pyproject.toml.
$(VENV)/.installed: pyproject.toml requirements/main.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/main.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed

# The catalogues are compiled from the .po files the translators edit (the .mo is not committed).
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard consentmgr/translations/*/LC_MESSAGES/messages.po))
%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

# After changing a page, mail or message: collect the strings, merge them into
# every language's catalogue (new ones untranslated, for tests/i18n to point at), compile.
translations: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 \
		--no-location --sort-output -w 100 -o consentmgr/translations/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -w 100 \
		-i consentmgr/translations/messages.pot -d consentmgr/translations
	$(MAKE) --no-print-directory $(CATALOGUES)

setup: $(VENV)/.installed $(CATALOGUES)

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
	@echo "    background worker: started beside the web server (flask worker); Ctrl-C stops both"
	@echo
	$(FLASK) serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev $(CATALOGUES)
	$(BIN)/bandit --quiet --recursive consentmgr --severity-level medium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/field_encryption.py
	$(BIN)/python benchmarks/export.py
	$(BIN)/python benchmarks/sign_in_timing.py
	$(BIN)/python benchmarks/write_cost.py

LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --all-build-deps \
	--no-emit-index-url --no-emit-find-links
lock: | $(BIN)/python
	$(BIN)/pip install --quiet 'pip-tools>=7.4'
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements/main.txt pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev --extra bench -o requirements/dev.txt pyproject.toml

clean:
	rm -rf $(VENV) instance/consentmgr.db
