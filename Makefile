# Portier: `make test` and `make demo` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is keyed on pyproject.toml's content: same pins, no reinstall.
STAMP := $(VENV)/.setup-$(shell sha256sum pyproject.toml | cut -c1-16)
MP_HEAP ?= 96k

.PHONY: setup test test-cpython test-micropython test-mpy bench demo clean

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

# One MicroPython process per test module: a 96 KiB heap that has compiled the whole firmware
# from source is too fragmented (interned strings, resident modules) for the larger tests.
test-micropython: setup
	@status=0; for t in tests/core/test_*.py; do m=$$(basename $$t .py); printf '%s: ' $$m; \
	  $(BIN)/micropython -X heapsize=$(MP_HEAP) tests/mp_runner.py tests/core $$m || status=1; \
	done; exit $$status

test-mpy: setup
	$(BIN)/portier compile

bench: setup
	$(BIN)/python bench/run.py

# The simulator (`portier sim`) lands with the calls issue; until then this says so honestly.
demo: setup
	@echo "make demo: the call simulator is not built yet (calls issue); nothing to show" >&2
	@exit 1

clean:
	rm -rf $(VENV) build
