# The two commands a newcomer needs (see README.md):
#   make run   - install what serving needs, build the local OpenSearch node, load sample data, serve
#   make test  - install everything (dev and bench extras), then lint (ruff),
#                type-check (mypy --strict) and run every test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test setup node chromium lint typecheck unit integration bench clean

# Serving needs the product only: no test tools, no benchmark stack.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,reports]'
	touch $(STAMP) $(RUN_STAMP)

setup: $(STAMP)

# The local OpenSearch node (engine/opensearch-node, Maven): built once, offline afterwards.
# Skipped with a note where no Java 17+ is found (casematch then runs on osmem).
# Building it needs the product only, so `make run` installs no test or benchmark tools.
node: $(RUN_STAMP)
	@if $(BIN)/python -c "import sys; from indexer.localnode import java_missing_reason as r; sys.exit(1 if r() else 0)"; \
	then $(BIN)/casematch engine build; \
	else echo "no Java 17+: the local OpenSearch node is not built; casematch uses osmem"; fi

# The demo key is kept in .casematch/demo-api-key (delete it for a new one).
run: node
	$(BIN)/casematch serve --host $(HOST) --port $(PORT) --sample

# The end-to-end tests (tests/e2e) drive Debian's chromium; installed here if missing and
# apt-get can (as root). Without it they skip, except under CI=true, where they fail.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for tests/e2e"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	    || echo "could not install chromium (needs root): tests/e2e will skip, or fail under CI=true"; \
	fi

test: $(STAMP) node chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

bench: $(STAMP)
	$(BIN)/casematch bench --help

clean:
	-$(BIN)/casematch engine stop
	rm -rf $(VENV) .casematch .mypy_cache .pytest_cache .ruff_cache engine/opensearch-node/target
