# The audio path allocates nothing: protect_into then unprotect_into of 160 B (G.711) and 640 B
# (L16) frames inside micropython.heap_lock(), where any allocation raises MemoryError. Only real
# MicroPython proves it; under CPython the shim's lock is a counter and the test checks results.
import micropython

from coretest import ON_MICROPYTHON
from portier.crypto import sha1
from portier.media.srtp import SrtpContext

KEY = bytes(range(100, 116))
SALT = bytes(range(7, 21))


def _header(buf, seq):
    buf[0] = 0x80
    buf[1] = 0  # PCMU
    buf[2] = (seq >> 8) & 0xFF
    buf[3] = seq & 0xFF
    buf[8] = 0xD0  # SSRC 0xD00D0001
    buf[9] = 0x0D
    buf[11] = 0x01


def _frames(tx, rx, buf, n, first_seq, count, out):
    # everything per packet happens here, under the lock; results go to a preallocated array
    seq = first_seq
    for i in range(count):
        _header(buf, seq & 0xFFFF)
        out[0] = tx.protect_into(buf, n)
        out[1] = rx.unprotect_into(buf, out[0])
        seq += 1


def _run_locked(tag_len, size):
    tx = SrtpContext(KEY, SALT, tag_len)
    rx = SrtpContext(KEY, SALT, tag_len)
    if ON_MICROPYTHON:  # the allocation-free path is the viper one
        assert isinstance(rx._rtp_auth, sha1.CtxHmacSha1)
    n = 12 + size
    buf = bytearray(n + tag_len)
    for i in range(12, n):
        buf[i] = (i * 29) & 0xFF
    plain = bytes(buf[12:n])
    out = [0, 0]
    micropython.heap_lock()
    try:
        _frames(tx, rx, buf, n, 65533, 6, out)  # first packets, then across the 16-bit wrap
    finally:
        micropython.heap_unlock()
    assert out[0] == n + tag_len and out[1] == n
    assert bytes(buf[12:n]) == plain
    assert tx._tx_roc == 1 and rx._rx_roc == 1 and rx._rx_sl == 2


def test_heap_locked_160_and_640_bytes():
    for size in (160, 640):
        _run_locked(10, size)


def test_heap_locked_sha1_32_profile():
    _run_locked(4, 160)


def test_protect_into_alone_under_lock():
    tx = SrtpContext(KEY, SALT)
    buf = bytearray(12 + 160 + 10)
    _header(buf, 1)
    micropython.heap_lock()
    try:
        n = tx.protect_into(buf, 172)
    finally:
        micropython.heap_unlock()
    assert n == 182
    rx = SrtpContext(KEY, SALT)
    assert rx.unprotect(bytes(buf))[12:] == bytes(160)


def test_srtcp_under_lock_near_the_last_index():
    # SRTCP's trailer word has bit 31 set (E): as a value it would be a heap int on a 32-bit
    # board, so the MAC reads it from the buffer. Indices run up to 2**30 - 1 under the lock;
    # the sender SSRC (0xD00D0001) is above 2**31.
    tx = SrtpContext(KEY, SALT)
    rx = SrtpContext(KEY, SALT)
    buf = bytearray(28 + 14)
    buf[0], buf[1], buf[3] = 0x80, 201, 6  # RR, length 6 words
    buf[4], buf[5], buf[7] = 0xD0, 0x0D, 0x01
    for i in range(8, 28):
        buf[i] = i
    plain = bytes(buf[:28])
    assert rx.unprotect_rtcp_into(buf, tx.protect_rtcp_into(buf, 28)) == 28  # makes the streams
    buf[:28] = plain
    tx._rtcp.tx_index = 0x3FFFFFFC
    out = [0, 0]
    micropython.heap_lock()
    try:
        for _ in range(3):
            out[0] = tx.protect_rtcp_into(buf, 28)
            out[1] = rx.unprotect_rtcp_into(buf, out[0])
    finally:
        micropython.heap_unlock()
    assert out == [42, 28] and bytes(buf[:28]) == plain
    assert rx._rtcp.rx_top == 0x3FFFFFFF
