"""CPython stand-in for MicroPython's `micropython` module.

Only what firmware code uses. The heap lock cannot be enforced on CPython, so it is a counter
here; allocation-freedom is proven by the same tests running under real MicroPython.
"""

_heap_lock_depth = 0


def const(value):
    return value


def native(func):
    return func


def viper(func):
    return func


def heap_lock():
    global _heap_lock_depth
    _heap_lock_depth += 1
    return _heap_lock_depth - 1


def heap_unlock():
    global _heap_lock_depth
    if _heap_lock_depth:
        _heap_lock_depth -= 1
    return _heap_lock_depth


def heap_locked():
    return _heap_lock_depth


def mem_info(verbose=False):
    import tracemalloc

    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        print("mem: current %d, peak %d (tracemalloc)" % (current, peak))
    else:
        print("mem: CPython (start tracemalloc for figures)")


def schedule(func, arg):
    # MicroPython runs the callback "soon" from the VM; CPython has no IRQ context to escape
    # from, so calling it now keeps ordering and exceptions observable.
    func(arg)


def opt_level(level=None):
    return 0 if level is None else None
