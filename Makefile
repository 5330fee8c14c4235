# Portier: `make test` and `make demo` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is keyed on pyproject.toml's content: same pins, no reinstall.
STAMP := $(VENV)/.setup-$(shell sha256sum pyproject.toml | cut -c1-16)
# The host MicroPython is a 64-bit build: its GC blocks are 32 bytes where an ESP32's are 16.
# Measured on a 32-bit build (issue 15), the same firmware takes 0.70x the 64-bit heap, so
# 144 KiB here is about 101 KB on a board: still tighter than the ~112 KB heap a PSRAM-less
# ESP32 gives Python after one growth step (reference notes, section 3). (128 KiB left
# test_media_session's import and others a few hundred bytes short once the media stack grew.)
MP_HEAP ?= 144k
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
