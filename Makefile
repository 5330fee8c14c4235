# Portier: `make test` and `make demo` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is keyed on pyproject.toml's content: same pins, no reinstall.
STAMP := $(VENV)/.setup-$(shell sha256sum pyproject.toml | cut -c1-16)
MP_HEAP ?= 96k

.PHONY: setup test test-cpython test-micropython test-mpy bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.setup-*
	touch $@

test: setup
	$(MAKE) --no-print-directory test-cpython test-micropython test-mpy

test-cpython: setup
	$(BIN)/python -m pytest tests

# One MicroPython process per test module: modules compiled from source leave their interned
# strings scattered over the heap, so a single process fragments 96 KiB long before it fills it.
test-micropython: setup
	@fail=0; for t in tests/core/test_*.py; do \
	  $(BIN)/micropython -X heapsize=$(MP_HEAP) tests/mp_runner.py tests/core $$(basename $$t .py) || fail=1; \
	done; exit $$fail

test-mpy: setup
	$(BIN)/portier compile

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build
