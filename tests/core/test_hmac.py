# HMAC-SHA1 (RFC 2202) and HMAC-SHA256 (RFC 4231) vectors, pads prepared once per key.
import hashlib

from coretest import unhex
from portier.crypto.hmac import Hmac, compare_digest, hmac_sha1, hmac_sha256

_LONG_SHA256_MSG = (
    b"This is a test using a larger than block-size key and a larger than block-size data. "
    b"The key needs to be hashed before being used by the HMAC algorithm."
)

# (key, data, expected) from RFC 2202 section 3
RFC2202_SHA1 = [
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

# (key, data, expected) from RFC 4231 section 4; case 5 is truncated to 128 bits there
RFC4231_SHA256 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, _LONG_SHA256_MSG,
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


def test_rfc2202_hmac_sha1():
    for key, data, expected in RFC2202_SHA1:
        assert hmac_sha1(key, data) == unhex(expected), expected


def test_rfc4231_hmac_sha256():
    for key, data, expected in RFC4231_SHA256:
        want = unhex(expected)
        assert hmac_sha256(key, data)[: len(want)] == want, expected


def test_one_object_serves_many_messages():
    mac = Hmac(b"Jefe", hashlib.sha256)
    for _ in range(3):
        assert mac.digest(b"what do ya want for nothing?") == unhex(RFC4231_SHA256[1][2])


def test_parts_are_concatenated():
    mac = Hmac(b"\x0b" * 20, hashlib.sha1)
    assert mac.digest(b"Hi", b" ", b"There") == unhex(RFC2202_SHA1[0][2])
    assert mac.digest(b"", b"Hi There", b"") == unhex(RFC2202_SHA1[0][2])


def test_compare_digest():
    tag = unhex(RFC2202_SHA1[0][2])
    assert compare_digest(tag, bytes(tag))
    assert compare_digest(bytearray(tag), tag)
    assert not compare_digest(tag, tag[:-1])
    for i in range(len(tag)):
        bad = bytearray(tag)
        bad[i] ^= 0x01
        assert not compare_digest(tag, bad)
