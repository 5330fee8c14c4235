# Helpers for core tests that run under pytest (CPython) and tests/mp_runner.py (MicroPython).
# Core tests cannot use pytest's features on MicroPython, so they use these instead.
import os
import sys

ON_MICROPYTHON = sys.implementation.name == "micropython"


class SkipTest(Exception):
    pass


def skip_on_micropython(reason):
    """Decorator: the test runs on CPython only. The reason is printed by the MicroPython run."""
    if not reason:
        raise ValueError("a skip needs a reason")

    def wrap(func):
        if not ON_MICROPYTHON:
            return func

        def skipped():
            raise SkipTest(reason)

        return skipped

    return wrap


def assert_raises(exc_class, func, *args, **kwargs):
    """Calls func and returns the exception it raised; fails if it raised nothing or another."""
    try:
        func(*args, **kwargs)
    except exc_class as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc_class.__name__, getattr(func, "__name__", func)))


def unhex(text):
    """Hex with any whitespace in it (vectors copied from RFCs) to bytes."""
    import binascii

    return binascii.unhexlify("".join(text.split()))


def remove_file(path):
    """Delete a file a test wrote and the temporary file of an atomic write of it (fsutil);
    either may be absent."""
    for p in (path, path + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass
