# Offers: several devices, options, and the strict child order.
# The cases are in _callstanza_offer_cases.py; the firmware is imported here first because on
# MicroPython's 96 KiB heap, compiling the firmware after a large test module no longer fits
# the fragmented heap.
import portier.wire.stanza  # noqa: F401
import portier.signaling.stanzas  # noqa: F401
from _callstanza_offer_cases import *  # noqa: F401,F403
