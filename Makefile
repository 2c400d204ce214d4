# `make demo` runs the main job on bundled data; `make test` runs the whole test suite.
# Both install what they need first (idempotent; a second run starts within seconds).
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast test-wheel bench lab docs clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/workbench demo

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

test-wheel: setup
	@$(PY) -m pytest -m wheel tests/test_wheel.py $(PYTEST_ARGS)

test-fast: setup
	@$(PY) -m pytest -m "not slow and not browser and not wheel" $(PYTEST_ARGS)

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lab: setup
	$(VENV)/bin/workbench lab

docs: setup
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info docs/_build docs/tutorials
