# Robustness: truncations, byte mutations and random bytes refused cleanly; the cases are in _stanza_robust_cases.py.
# The firmware is imported before the cases are compiled: on MicroPython's 96 KiB heap, compiling
# the firmware after a large test module no longer fits the fragmented heap.
import portier.signaling.stanzas  # noqa: F401
from _stanza_robust_cases import *  # noqa: F401,F403
