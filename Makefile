# make run   - set up and start the service for development (SQLite, mail to the log)
# make test  - set up and run the whole test suite
# make lint  - ruff check + format check
# make migration m="what changed" - new Alembic revision after changing idm/models/
# make bench - the service's speed as ratios against baselines (docs/performance.md)
# make bench-profile - where a worker spends its time on GET /user/me
# make bench-lifetime - does a worker's memory grow with the requests it serves?
# make screenshots - retake the pictures in README.md and docs/ from the real pages
# make fuzz  - a long fuzzing campaign of the JSON API (docs/reliability.md); FUZZ_ARGS to change it

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Debian packages the test suite drives for real (command=package).
TEST_DEBIAN_PACKAGES := chromium=chromium initdb=postgresql nginx=nginx supervisord=supervisor openssl=openssl sqlite3=sqlite3 curl=curl
# Debian packages the benchmark drives (its smoke test too).
BENCH_DEBIAN_PACKAGES := wrk=wrk

.PHONY: run test lint format migration bench bench-lifetime bench-profile screenshots fuzz debian-packages clean

# The schema comes only from migrations, for development as in production.
# FLASK_DEBUG=1: the development setup keeps the default SECRET_KEY.
run: $(VENV)/.installed-run
	FLASK_DEBUG=1 $(BIN)/flask --app app db upgrade
	$(BIN)/python app.py

test: $(VENV)/.installed-dev debian-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migration: $(VENV)/.installed-dev
	@test -n "$(m)" || { echo 'usage: make migration m="what changed"'; exit 2; }
	VENV_BIN=$(BIN) sh scripts/new-migration.sh "$(m)"

# BENCH_ARGS=--quick for a smoke run; --json FILE keeps every measurement.
bench: $(VENV)/.installed-bench
	@sh scripts/debian-packages.sh $(BENCH_DEBIAN_PACKAGES)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# A worker's memory over many requests, recycling off; LIFETIME_ARGS=--minutes 30.
bench-lifetime: $(VENV)/.installed-bench
	@sh scripts/debian-packages.sh $(BENCH_DEBIAN_PACKAGES)
	$(BIN)/python -m bench.lifetime $(LIFETIME_ARGS)

# Where a worker spends its time on GET /user/me (py-spy); PROFILE_ARGS=--help.
bench-profile: $(VENV)/.installed-bench
	@sh scripts/debian-packages.sh $(BENCH_DEBIAN_PACKAGES)
	$(BIN)/python -m bench.profile_me $(PROFILE_ARGS)

screenshots: $(VENV)/.installed-dev debian-packages
	$(BIN)/python -m pytest -q tests/test_docs_screenshots.py
	cp tests/artifacts/docs/*.png docs/

# The fuzz tests of `make test`, with far more examples, a new seed each time
# (the table at the end names it), and no time limit per test. FUZZ_ARGS:
# e.g. "--fuzz-examples 200 --fuzz-seed 42 -k sqlite".
fuzz: $(VENV)/.installed-dev debian-packages
	$(BIN)/python -m pytest -p no:cacheprovider --timeout 0 tests/test_fuzz.py \
		--fuzz-examples 1000 --fuzz-seed random $(FUZZ_ARGS)

debian-packages:
	@sh scripts/debian-packages.sh $(TEST_DEBIAN_PACKAGES) $(BENCH_DEBIAN_PACKAGES)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt bench/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run $(VENV)/.installed-bench

$(VENV)/.installed-bench: requirements.txt bench/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt -r bench/requirements.txt
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
