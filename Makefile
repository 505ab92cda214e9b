# One entry each for the usual jobs; each runs the commands the README documents.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test check bench conformance

setup: $(STAMP)  ## a venv with orch (editable) and everything the tests need

$(STAMP): pyproject.toml
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[test]' && touch $(STAMP)

run: $(STAMP)  ## the whole handoff chain on a throwaway repo
	$(VENV)/bin/orch demo

test: $(STAMP)  ## the whole suite (one group: make test ARGS='-m hooks')
	$(VENV)/bin/pytest $(ARGS)

check: $(STAMP)  ## lint, format and strict types, as CI runs them
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

bench: $(STAMP)  ## the benchmark tables recorded in the README
	$(PY) benchmarks/bench_cli.py --backlog
	$(PY) benchmarks/bench_hooks.py
	$(PY) benchmarks/bench_mcp.py
	$(PY) benchmarks/bench_oauth.py

conformance: $(STAMP)  ## the official MCP conformance suite against orch mcp --http (needs npm)
	$(PY) scripts/conformance.py
