# make run   - set up and start the service for development (SQLite, mail to the log)
# make test  - set up and run the whole test suite
# make lint  - ruff check + format check

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Debian packages the test suite drives for real (command=package).
TEST_DEBIAN_PACKAGES := chromium=chromium

.PHONY: run test lint format debian-packages clean

run: $(VENV)/.installed-run
	$(BIN)/python app.py

test: $(VENV)/.installed-dev debian-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

debian-packages:
	@sh scripts/debian-packages.sh $(TEST_DEBIAN_PACKAGES)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
