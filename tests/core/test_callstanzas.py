# Call stanza builders and parsers against the model's shapes; the cases are in _callstanza_cases.py.
# The firmware is imported before the cases are compiled: on MicroPython's 96 KiB heap, compiling
# the firmware after a large test module no longer fits the fragmented heap.
import portier.signaling.stanzas  # noqa: F401
from _callstanza_cases import *  # noqa: F401,F403
