# Portier: `make test` and `make demo` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is keyed on pyproject.toml's content: same pins, no reinstall.
STAMP := $(VENV)/.setup-$(shell sha256sum pyproject.toml | cut -c1-16)
# The host MicroPython is a 64-bit build: its GC blocks are 32 bytes where an ESP32's are 16,
# so objects take up to twice the room. 128 KiB here is still tighter than the ~112 KB heap a
# PSRAM-less ESP32 gives Python after one growth step (reference notes, section 3).
MP_HEAP ?= 128k
# Another MicroPython build (32-bit, frozen...): PORTIER_MICROPYTHON=/path/to/micropython, the
# one variable every host tool, test and benchmark reads (portier_host/paths.py).
MICROPYTHON := $(or $(PORTIER_MICROPYTHON),$(BIN)/micropython)

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

# Under real MicroPython, one process (one fresh heap) per core test module: tests/mp_suite.py.
test-micropython: setup
	$(BIN)/python tests/mp_suite.py $(MICROPYTHON) $(MP_HEAP)

test-mpy: setup
	$(BIN)/portier compile

bench: setup
	$(BIN)/python bench/run.py

# A whole answered call: the door on real MicroPython rings a phone, they talk through SRTP and
# the relay, and the recordings of what each side heard are kept in demo-output/.
demo: setup
	rm -rf demo-output
	$(BIN)/portier sim --scenario answered --talk 6 --out demo-output

clean:
	rm -rf $(VENV) build
