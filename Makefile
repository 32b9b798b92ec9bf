# The habits of this project. `make run` and `make test` are the two commands of the README.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
PO    := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO    := $(PO:.po=.mo)
NODE_STAMP := tests/emulator/node_modules/.package-lock.json

.PHONY: run chat bot test lint train evaluate bench screens catalogs messages install clean

run: train                        ## terminal chat without TELEGRAM_BOT_TOKEN, the Telegram bot with it
	@$(BIN)/helpline run

test: train $(NODE_STAMP) lint    ## the whole suite (ruff, mypy, vulture, pytest against real Redis, Rasa, Bot API emulator, Chromium)
	@scripts/require chromium "install Debian's Chromium for the dashboard's browser tests ('apt install chromium')" chromium
	@$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/vulture

train: catalogs                   ## train the NLU model unless one exists for the current data
	@$(BIN)/helpline train

evaluate: train
	@$(BIN)/helpline evaluate

SCREENS := staff-queue-search staff-tip staff-phone-queue staff-phone-console
screens: $(VENV)/.installed       ## the README's dashboard screenshots (docs/screens/), taken again by the browser tests
	@scripts/require chromium "install Debian's Chromium for the dashboard's browser tests ('apt install chromium')" chromium
	@$(BIN)/pytest -q tests/staff/test_browser.py
	@cp $(SCREENS:%=reports/%.png) docs/screens/

bench: train                      ## figures for the README: NLU vs baseline, the whole update path vs Rasa, profiles
	@$(BIN)/python bench/nlu.py
	@$(BIN)/python bench/pipeline.py
	@$(BIN)/python bench/profile.py
	@$(BIN)/python bench/crisis.py

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@scripts/require redis-server "install Redis 7.0 or later (e.g. 'apt install redis-server')" redis-server 7.0
	@test -x $(BIN)/python || { py=$$(scripts/find-python) && "$$py" -m venv $(VENV); }
	@echo "Installing Sini and Rasa 3.6 into $(VENV) (first time: a few minutes)…"
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

catalogs: $(VENV)/.installed $(MO)

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(VENV)/.installed
	@$(BIN)/pybabel compile --statistics -D messages -i $< -o $@ -l $*

messages: $(VENV)/.installed      ## re-extract texts from responses/ and update the en/bm catalogs
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output -o locales/messages.pot \
	  --project=Sini --copyright-holder="Sini contributors" .
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete

$(NODE_STAMP): tests/emulator/package-lock.json
	@scripts/require node "install Node.js 18 or later (needed by the test suite's Telegram Bot API emulator)" "" 18
	@scripts/require npm "install npm (comes with Node.js)"
	@npm ci --prefix tests/emulator --no-audit --no-fund --loglevel=error

clean:
	rm -rf $(VENV) models var reports tests/emulator/node_modules locales/*/LC_MESSAGES/*.mo
