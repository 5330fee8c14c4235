# Call stanzas that must be refused, and the unknown-action result.
# The cases are in _callstanza_error_cases.py; the firmware is imported here first because on
# MicroPython's 96 KiB heap, compiling the firmware after a large test module no longer fits
# the fragmented heap.
import portier.wire.stanza  # noqa: F401
import portier.signaling.stanzas  # noqa: F401
from _callstanza_error_cases import *  # noqa: F401,F403
