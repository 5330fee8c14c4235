# Robustness: truncations, byte mutations and random bytes refused cleanly.
# The cases are in _stanza_robust_cases.py; the firmware is imported here first because on
# MicroPython's 96 KiB heap, compiling the firmware after a large test module no longer fits
# the fragmented heap.
import portier.wire.stanza  # noqa: F401
import portier.signaling.stanzas  # noqa: F401
from _stanza_robust_cases import *  # noqa: F401,F403
