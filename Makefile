# Espace Client: `make demo` runs both apps with demo data; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pytest-xdist workers for `make test` (each has its own databases; see tests/conftest.py).
TEST_WORKERS ?= 2

.PHONY: setup demo screenshots test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,redis]'
	touch $@

# Message catalogues are compiled from the .po files (the .mo files are not in git).
CATALOGUES := $(patsubst %.po,%.mo,$(shell find idp portal -name messages.po -path '*/translations/*'))
%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel compile -i $< -o $@ >/dev/null

setup: $(BIN)/.installed $(CATALOGUES)

demo: setup
	bash scripts/demo.sh

# README screenshots (docs/screenshots/*.png) from a throwaway demo, in Debian's chromium.
screenshots: setup
	bash scripts/ensure-chromium.sh
	$(BIN)/python scripts/screenshots.py

lint: setup
	$(BIN)/ruff check .

test: setup
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup

bench: setup  # the benchmark of record (docs/performance.md); the HTTP workloads need wrk
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null 2>&1; } || \
	  echo "make bench: wrk is missing (apt-get install wrk): HTTP workloads will fail"
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo instance idp/instance portal/instance
