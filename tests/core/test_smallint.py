# The 32-bit small-int check (host_tools/mpshim/smallint.py) that this directory's CPython run
# applies to the frame path: it must flag what a 32-bit board would allocate, and only that.
from coretest import assert_raises, skip_on_micropython

_WHY = "checks the CPython model of a 32-bit board's small ints (the host port is 64-bit)"

SNIPPET = """
def mask32(a, b):
    return (a - b) & 0xFFFFFFFF
def join(hi, lo):
    return (hi << 16) | lo
def halves(hi, lo, n):
    lo += n
    hi = (hi + (lo >> 16)) & 0xFFFF
    return hi, lo & 0xFFFF
def below(v, limit):
    return v > limit
def neg(x):
    return -x
def grow(items, more):
    items += more
    return items
def big(hi):
    return int(hi) << 0
"""


def _module(source):
    import smallint

    ns = {"__smallint__": smallint._Checks}
    exec(smallint.rewrite(source, "<snippet>"), ns)
    return ns


def _locked(fn, *args):
    import micropython

    micropython.heap_lock()
    try:
        return fn(*args)
    finally:
        micropython.heap_unlock()


@skip_on_micropython(_WHY)
def test_flags_long_operands_and_results_only_under_the_lock():
    from smallint import SmallIntError

    m = _module(SNIPPET)
    assert m["mask32"](5, 3) == 2  # unlocked: anything goes, as set-up code on a board
    err = assert_raises(SmallIntError, _locked, m["mask32"], 5, 3)
    assert "operand 4294967295" in str(err) and "<snippet>:3" in str(err)
    assert isinstance(err, MemoryError)  # what heap_lock raises on the board
    assert _locked(m["join"], 0x3FFF, 0xFFFF) == 0x3FFFFFFF
    assert "result 1073741824" in str(assert_raises(SmallIntError, _locked, m["join"], 0x4000, 0))
    assert _locked(m["halves"], 0xFFFF, 0xFFF0, 0x20) == (0, 0x10)
    assert _locked(m["below"], 5, 0xFFFFFFFF) is False  # comparisons do not allocate
    assert "value" in str(assert_raises(SmallIntError, _locked, m["neg"], 1 << 30))
    assert _locked(m["neg"], (1 << 30) - 1) == -((1 << 30) - 1)
    assert _locked(m["neg"], -(1 << 30) + 1) == (1 << 30) - 1
    assert_raises(SmallIntError, _locked, m["big"], 1 << 31)  # a call's result
    items = [1]
    assert _locked(m["grow"], items, [2]) is items and items == [1, 2]  # in place, as +=


@skip_on_micropython(_WHY)
def test_the_frame_path_modules_carry_the_check():
    # conftest.py installs it before any test imports the firmware.
    from portier.media import jitter, session, srtcp
    from portier.wire import stanza

    for mod in (jitter, session, srtcp):
        assert "__smallint__" in vars(mod), mod.__name__
    assert "__smallint__" not in vars(stanza)
