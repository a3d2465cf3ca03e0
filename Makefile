# Two commands on a fresh machine: `make run` and `make test`.
# Both create .venv when needed and are safe to run again.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= var/demo
DEMO_SEEKERS   ?= 20000
DEMO_VACANCIES ?= 6000
DEMO_SEED      ?= 7

.PHONY: run test lint typecheck postgres chromium install demo-world lock bench bench-service bench-soak clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The demo world is generated once per seed and size; delete var/ to start over.
$(DEMO)/world.json: $(STAMP)
	$(BIN)/kohtaanto generate --seekers $(DEMO_SEEKERS) --vacancies $(DEMO_VACANCIES) \
		--seed $(DEMO_SEED) --out $(DEMO)

demo-world: $(DEMO)/world.json

# Prints demo matches, prepares the service (database, first model, demo tokens) and serves
# on http://127.0.0.1:8000 until Ctrl-C.
run: $(DEMO)/world.json
	$(BIN)/kohtaanto demo --world $(DEMO)
	$(BIN)/kohtaanto serve --demo-world $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	# Migration files are named 0001_... (not importable), so `packages` skips them.
	$(BIN)/mypy service/storage/migrations/versions

# The storage tests run on SQLite and PostgreSQL; this starts a local server when none answers.
postgres:
	scripts/ensure-postgres.sh

# The browser tests (tests/browser/) drive Debian's headless Chromium; this installs it when
# missing (apt-get, as root or with sudo) and is a quick no-op when present.
chromium:
	scripts/ensure-chromium.sh

test: lint typecheck postgres chromium
	$(BIN)/pytest -n 2 --dist loadgroup

# Regenerate the pinned constraints after changing dependencies in pyproject.toml.
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--no-header --no-annotate -o constraints.txt

bench: $(STAMP) $(DEMO)/world.json postgres
	$(BIN)/python bench/bench_reference_data.py
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_matching.py
	$(BIN)/python bench/bench_storage.py --world $(DEMO)

# HTTP load on `kohtaanto serve --workers 2` over the 300,000 / 100,000 world (SQLite); the
# database is prepared once under var/bench/service/ (~1 min). Not in `make bench` (~6 min).
bench-service: $(STAMP)
	$(BIN)/python bench/bench_service.py

# Mixed reads and writes of every role on `kohtaanto serve --workers 2` (PostgreSQL) while a
# worker is killed, models are swapped and database connections are cut; exits 1 on any 5xx
# or audit mismatch. Reads are answered again after a cut connection; a write in flight
# during the cut is answered 503 (it may have been saved: the client must read it back), so
# those 503s, and only those, pass. `make bench-soak SOAK_MINUTES=1` for a short run.
SOAK_MINUTES ?= 10
bench-soak: $(STAMP) postgres
	$(BIN)/python bench/bench_soak.py --minutes $(SOAK_MINUTES) --allow-cut-503

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
