# Relay bind datagrams (docs/protocol.md section 7): exact bytes, MAC, bounds, and the party's
# Binder: it binds only after the relay named its address, under a MAC only the leg key makes.
from coretest import assert_raises, unhex
from portier.wire import relaybind
from portier.wire.relaybind import RelayBindError

KEY = bytes(range(16))
PUBLIC = unhex("a0a1a2a3a4a5a6a7" "02" "b0b1b2b3" "6a000000")
TOKEN = PUBLIC + KEY
ADDR = unhex("7f000001 1f90")  # 127.0.0.1:8080
NO_TAG = bytes(4)


def test_bytes_match_the_spec_example():
    # The worked example in docs/protocol.md section 7 (MAC computed with CPython's hmac).
    want = unhex("50520201" "a0a1a2a3a4a5a6a702b0b1b2b36a000000" "00000001" "7f0000011f90"
                 "00000000" "e65d0d679cc4e9a47933")
    assert relaybind.build(KEY, relaybind.TYPE_BIND, PUBLIC, 1, ADDR, NO_TAG) == want
    assert relaybind.parse(want) == (1, PUBLIC, 1, ADDR, NO_TAG)
    assert relaybind.check_mac(KEY, want)
    assert relaybind.split_public(PUBLIC) == (unhex("a0a1a2a3a4a5a6a7"), 2, unhex("b0b1b2b3"),
                                              0x6A000000)
    assert relaybind.device_tag("anna:2@home") == unhex("c7644216")  # SHA-256, first 4 bytes


def test_never_looks_like_rtp():
    data = relaybind.build(KEY, relaybind.TYPE_BOUND, PUBLIC, 1, ADDR, NO_TAG)
    assert data[0] >> 6 != 2  # RTP version 2 has the top bits 10
    assert relaybind.is_bind(data)
    assert not relaybind.is_bind(b"\x80\x00" + bytes(10))


def test_bad_datagrams_refused():
    good = relaybind.build(KEY, relaybind.TYPE_BIND, PUBLIC, 1, ADDR, NO_TAG)
    for bad in (b"", good[:-1], good + b"\x00", b"\x80" + good[1:], good[:2] + b"\x01" + good[3:],
                good[:3] + b"\x07" + good[4:], good[:3] + b"\x00" + good[4:]):
        assert_raises(RelayBindError, relaybind.parse, bad)
    for i in range(len(good)):  # any bit changed anywhere: the MAC no longer holds
        forged = bytearray(good)
        forged[i] ^= 0x10
        assert not relaybind.check_mac(KEY, forged)
    assert not relaybind.check_mac(bytes(16), good)
    assert_raises(RelayBindError, relaybind.build, KEY, 4, PUBLIC, 1, ADDR, NO_TAG)
    assert_raises(RelayBindError, relaybind.build, KEY, 1, PUBLIC[:-1], 1, ADDR, NO_TAG)
    assert_raises(RelayBindError, relaybind.build_into, bytearray(10), KEY, 1, PUBLIC, 1, ADDR,
                  NO_TAG)
    assert_raises(RelayBindError, relaybind.Binder, TOKEN[:-1])


def _relay_answer(bind, kind, addr):
    # what the relay sends back: the bind's fields with its address, under the leg key
    _, public, counter, _, peer = relaybind.parse(bind)
    return bytearray(relaybind.build(KEY, kind, public, counter, addr, peer))


def test_binder_binds_from_the_address_the_relay_names():
    b = relaybind.Binder(TOKEN, "anna:2@home")
    buf = bytearray(relaybind.BIND_LEN)
    n = b.bind_into(buf)
    first = bytes(buf[:n])
    assert relaybind.parse(first) == (1, PUBLIC, 1, bytes(6), relaybind.device_tag("anna:2@home"))
    assert relaybind.check_mac(KEY, first)
    # a "bound" for an address it never named, or a forged address answer: not for us
    assert b.answer(_relay_answer(first, relaybind.TYPE_BOUND, ADDR), n) == relaybind.STALE
    other = bytearray(relaybind.build(KEY, relaybind.TYPE_BOUND, bytes(17), 1, bytes(6), NO_TAG))
    assert b.answer(other, n) == relaybind.NOT_FOR_US  # another leg's
    forged = _relay_answer(first, relaybind.TYPE_ADDRESS, ADDR)
    forged[-1] ^= 1
    assert b.answer(forged, n) == relaybind.NOT_FOR_US
    assert b.answer(_relay_answer(first, relaybind.TYPE_ADDRESS, ADDR), n) == relaybind.REBIND
    n = b.bind_into(buf)
    second = bytes(buf[:n])
    assert relaybind.parse(second)[2:4] == (2, ADDR)
    # an address answer to the older bind is stale now
    assert b.answer(_relay_answer(first, relaybind.TYPE_ADDRESS, bytes(6)), n) == relaybind.STALE
    assert b.answer(_relay_answer(second, relaybind.TYPE_BOUND, ADDR), n) == relaybind.BOUND


def test_callee_names_nobody():
    b = relaybind.Binder(TOKEN)
    buf = bytearray(relaybind.BIND_LEN)
    b.bind_into(buf)
    assert relaybind.parse(buf)[4] == NO_TAG


def test_keepalive_binds_and_their_answers_allocate_nothing():
    import micropython

    b = relaybind.Binder(TOKEN, "anna:2@home")
    buf = bytearray(relaybind.BIND_LEN)
    n = b.bind_into(buf)
    assert b.answer(_relay_answer(buf[:n], relaybind.TYPE_ADDRESS, ADDR), n) == relaybind.REBIND
    n = b.bind_into(buf)
    bound = _relay_answer(buf[:n], relaybind.TYPE_BOUND, ADDR)
    micropython.heap_lock()
    try:
        for _ in range(3):  # the same bind each keepalive, the same answer
            n = b.bind_into(buf)
            got = b.answer(bound, n)
    finally:
        micropython.heap_unlock()
    assert got == relaybind.BOUND and relaybind.parse(buf)[2:4] == (2, ADDR)
