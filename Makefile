# Herald. `make run` and `make test` are the two commands a newcomer needs; see README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/herald
TEST_BROKER_URL ?= redis://127.0.0.1:6379/14
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: install run test test-quick lint format migrate clean fuzz fuzz-quick
.PHONY: bench bench-quick screenshots

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

migrate: install
	$(PY) manage.py migrate --noinput

# Web server, Celery worker, beat and the sweeper in the foreground, under a supervisor that replaces any
# that dies, and a worker that stalls (dispatch/management/commands/supervise.py); Ctrl-C stops them all.
run: migrate
	@echo "Herald on http://127.0.0.1:$(PORT)/  (admin: /admin/, health: /api/v1/health/)"
	@exec $(PY) manage.py supervise --port $(PORT)

TEST_ENV = DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) REDIS_URL=$(TEST_REDIS_URL)

test: install
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# While iterating: everything but the slow end-to-end and fault tests.
test-quick: install
	$(TEST_ENV) $(VENV)/bin/pytest -m 'not slow' $(PYTEST_ARGS)

# The admin journey in Chromium (tests/e2e/test_browser.py), keeping its screenshots in docs/screenshots/.
screenshots: install
	$(TEST_ENV) HERALD_SCREENSHOTS=docs/screenshots $(VENV)/bin/pytest -q tests/e2e/test_browser.py

# Schemathesis against the OpenAPI schema: no 5xx, no answer the schema does not describe.
fuzz: install
	FUZZ_EXAMPLES=100 tests/fuzz/run.sh

fuzz-quick: install
	FUZZ_EXAMPLES=10 FUZZ_SEED=20261122 tests/fuzz/run.sh

# Performance (docs/performance.md): real gunicorn, Celery, PostgreSQL and Redis on 127.0.0.1, in databases
# herald_bench* and Redis db 11. About 6 minutes (9 the first time, which builds a 10-million-row send log).
# bench-quick is 1,000 sends for CI: it prints the same table and fails only if something did not work.
$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) -m bench

bench-quick: $(VENV)/.bench-installed
	$(PY) -m bench --quick

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var .pytest_cache .ruff_cache
