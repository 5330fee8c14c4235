# HMAC-SHA1 on preallocated state: the viper version (MicroPython) and its pure-Python twin, held
# to FIPS 180 SHA-1, RFC 2202 HMAC-SHA1 and the C SHA-1 behind hashlib; plus the hashlib
# fallback. Every implementation must give the same tags.
import hashlib

from coretest import ON_MICROPYTHON, unhex
from portier.crypto import sha1
from portier.crypto.hmac import hmac_sha1

# (key, data, expected) from RFC 2202 section 3
RFC2202 = [
    (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    (bytes(range(1, 26)), b"\xcd" * 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
    (b"\x0c" * 20, b"Test With Truncation", "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
     "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
]


def _ctx_impls():
    impls = [("python", sha1.py_impl())]
    if ON_MICROPYTHON:
        assert sha1.VIPER_IMPL is not None, "host MicroPython has the viper emitter"
        impls.append(("viper", sha1.VIPER_IMPL))
    return impls


def _all_macs(key):
    macs = [(name, sha1.CtxHmacSha1(key, impl)) for name, impl in _ctx_impls()]
    macs.append(("hashlib", sha1.HashlibHmacSha1(key)))
    return macs


def _split_roc(msg):
    # the API hashes data[:n] || roc: the message's last 4 bytes play the ROC
    tail = msg[-4:]
    roc = (tail[0] << 24) | (tail[1] << 16) | (tail[2] << 8) | tail[3]
    return bytearray(msg[:-4]), len(msg) - 4, roc


def _block(msg):
    # one FIPS 180 padded block for a message under 56 bytes
    out = bytearray(64)
    out[: len(msg)] = msg
    out[len(msg)] = 0x80
    bits = 8 * len(msg)
    out[62] = bits >> 8
    out[63] = bits & 0xFF
    return out


def _h0_ctx():
    ctx = bytearray(sha1.CTX_SIZE)
    mac = sha1.CtxHmacSha1(b"", sha1.py_impl())  # borrow its constants; H is reset below
    ctx[:] = mac._ctx
    for i in range(5):
        w = (sha1._H0[4 * i] << 24) | (sha1._H0[4 * i + 1] << 16) | (sha1._H0[4 * i + 2] << 8)
        sha1.set_word(ctx, i, w | sha1._H0[4 * i + 3])
    return ctx


def _h_be(ctx):
    out = bytearray(20)
    for i in range(5):
        sha1.put_be32(out, 4 * i, sha1.get_word(ctx, i))
    return bytes(out)


def test_fips180_compression():
    # FIPS 180-2 appendix A.1 ("abc") and the empty message, one block each
    for msg, want in (
        (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ):
        for name, (hmac_fn, _) in _ctx_impls():
            ctx = _h0_ctx()
            hmac_fn(ctx, _block(msg), -1, 0)
            assert _h_be(ctx) == unhex(want), (name, msg)


def test_rfc2202_all_implementations():
    for key, msg, want in RFC2202:
        data, n, roc = _split_roc(msg)
        for name, mac in _all_macs(key):
            assert mac.digest(data, n, roc) == unhex(want), (name, want)


def test_lengths_across_block_boundaries_match_c_sha1():
    # 0..140 bytes crosses both padding cases (tail in one block or two) and full blocks
    key = bytes(range(20))
    data = bytearray((7 * i + 3) & 0xFF for i in range(200))
    macs = _all_macs(key)
    sizes = range(141) if not ON_MICROPYTHON else (0, 1, 51, 52, 55, 56, 59, 60, 63, 64, 115, 116,
                                                     123, 124, 128, 140)
    for n in sizes:
        roc = 0x01000000 * (n & 0x3F) + n
        want = hmac_sha1(key, bytes(data[:n]) + bytes(((roc >> 24) & 0xFF, (roc >> 16) & 0xFF,
                                                      (roc >> 8) & 0xFF, roc & 0xFF)))
        for name, mac in macs:
            assert mac.digest(data, n, roc) == want, (name, n)


def test_large_packet_matches():
    key = b"\x5a" * 20
    data = bytearray((i * 13) & 0xFF for i in range(1400))
    want = hmac_sha1(key, bytes(data) + b"\xff\xff\xff\xff")
    for name, mac in _all_macs(key):
        assert mac.digest(data, 1400, 0xFFFFFFFF) == want, name


def test_sign_into_and_verify():
    key = bytes(range(40, 60))
    pkt = bytearray(b"\x80\x00\x12\x34" + bytes(range(100)) + bytes(10))
    n = 104
    want = hmac_sha1(key, bytes(pkt[:n]) + b"\x00\x00\x00\x02")
    for tag_len in (4, 10):
        for name, mac in _all_macs(key):
            buf = bytearray(pkt)
            mac.sign_into(buf, n, 2, n, tag_len)
            assert buf[:n] == pkt[:n], name
            assert buf[n:n + tag_len] == want[:tag_len], (name, tag_len)
            assert bytes(buf[n + tag_len:]) == bytes(len(buf) - n - tag_len), name
            assert mac.verify(buf, n, 2, n, tag_len), name
            assert not mac.verify(buf, n, 3, n, tag_len), name  # another ROC
            for i in range(tag_len):  # every tag byte counts
                buf[n + i] ^= 0x80
                assert not mac.verify(buf, n, 2, n, tag_len), (name, i)
                buf[n + i] ^= 0x80


def test_one_state_many_messages_and_keys_independent():
    a = bytearray(b"first message, a bit longer than one block of sixty-four bytes....")
    b = bytearray(b"second")
    for name, impl in _ctx_impls():
        m1 = sha1.CtxHmacSha1(b"key one", impl)
        m2 = sha1.CtxHmacSha1(b"key two", impl)
        for _ in range(3):
            assert m1.digest(a, len(a), 9) == hmac_sha1(b"key one", bytes(a) + b"\0\0\0\x09"), name
            assert m2.digest(b, len(b), 0) == hmac_sha1(b"key two", bytes(b) + b"\0\0\0\0"), name


def test_hashlib_fallback_uses_c_sha1():
    mac = sha1.HashlibHmacSha1(b"k")
    assert mac.digest(bytearray(b"abcd"), 0, 0x61626364) == hmac_sha1(b"k", b"abcd")
    assert hashlib.sha1(b"abc").digest() == unhex("a9993e364706816aba3e25717850c26c9cd0d89d")


def test_new_hmac_sha1_picks_the_runtime_best():
    mac = sha1.new_hmac_sha1(b"Jefe")
    if ON_MICROPYTHON:
        assert isinstance(mac, sha1.CtxHmacSha1)
    else:
        assert isinstance(mac, sha1.HashlibHmacSha1)
    data, n, roc = _split_roc(RFC2202[1][1])
    assert mac.digest(data, n, roc) == unhex(RFC2202[1][2])
