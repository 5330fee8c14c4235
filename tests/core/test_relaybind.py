# Relay bind datagrams: exact bytes (docs/protocol.md section 7), bounds, allocation-free build.
import micropython

from coretest import assert_raises, unhex
from portier.wire import relaybind
from portier.wire.relaybind import RelayBindError

TOKEN = bytes(range(0xA0, 0xA0 + 24))


def test_bytes_match_the_spec_example():
    # The worked example in docs/protocol.md section 7.
    want = unhex("50 52 01 01 02" "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7")
    assert relaybind.build(relaybind.TYPE_BIND, relaybind.PID_CALLEE, TOKEN) == want
    assert relaybind.parse(want) == (1, 2, TOKEN)


def test_never_looks_like_rtp():
    data = relaybind.build(relaybind.TYPE_BOUND, relaybind.PID_CALLER, TOKEN)
    assert data[0] >> 6 != 2  # RTP version 2 has the top bits 10
    assert relaybind.is_bind(data)
    assert not relaybind.is_bind(b"\x80\x00" + bytes(10))


def test_bad_datagrams_refused():
    good = relaybind.build(relaybind.TYPE_BIND, relaybind.PID_CALLER, TOKEN)
    for bad in (b"", good[:-1], good + b"\x00", b"\x80" + good[1:], good[:2] + b"\x02" + good[3:],
                good[:3] + b"\x07" + good[4:], good[:4] + b"\x03" + good[5:]):
        assert_raises(RelayBindError, relaybind.parse, bad)
    assert_raises(RelayBindError, relaybind.build, 3, 1, TOKEN)
    assert_raises(RelayBindError, relaybind.build, 1, 0, TOKEN)
    assert_raises(RelayBindError, relaybind.build, 1, 1, TOKEN[:-1])
    assert_raises(RelayBindError, relaybind.build_into, bytearray(10), 1, 1, TOKEN)


def test_build_into_allocates_nothing():
    buf = bytearray(64)
    micropython.heap_lock()
    try:
        n = relaybind.build_into(buf, relaybind.TYPE_BIND, relaybind.PID_CALLER, TOKEN)
    finally:
        micropython.heap_unlock()
    assert n == relaybind.BIND_LEN and bytes(buf[:n]) == relaybind.build(1, 1, TOKEN)
