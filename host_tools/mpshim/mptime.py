"""MicroPython's additions to `time` (ticks_*, sleep_ms/us), for CPython.

`install()` adds them to CPython's `time` module, only the names that are missing, and only
when asked: firmware code under the shim calls `time.ticks_ms()` unchanged, while host tools
that never call install() see CPython's `time` untouched.

Ticks wrap like a 32-bit ESP32's (period 2**30, MicroPython's small-int range there; the 64-bit
unix port wraps only at 2**62), so code that compares deadlines with `<` instead of `ticks_diff`
meets the wrap here as it would on a board.
"""

import time as _time

TICKS_PERIOD = 1 << 30
_TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2


def ticks_ms():
    return _time.monotonic_ns() // 1_000_000 & _TICKS_MAX


def ticks_us():
    return _time.monotonic_ns() // 1_000 & _TICKS_MAX


def ticks_cpu():
    return _time.perf_counter_ns() & _TICKS_MAX


def ticks_add(ticks, delta):
    return (ticks + delta) & _TICKS_MAX


def ticks_diff(end, start):
    return ((end - start + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def sleep_ms(ms):
    if ms > 0:
        _time.sleep(ms / 1000)


def sleep_us(us):
    if us > 0:
        _time.sleep(us / 1_000_000)


_ADDITIONS = {
    "ticks_ms": ticks_ms,
    "ticks_us": ticks_us,
    "ticks_cpu": ticks_cpu,
    "ticks_add": ticks_add,
    "ticks_diff": ticks_diff,
    "sleep_ms": sleep_ms,
    "sleep_us": sleep_us,
}


def install():
    for name, func in _ADDITIONS.items():
        if not hasattr(_time, name):
            setattr(_time, name, func)
