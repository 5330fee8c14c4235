# HMAC (RFC 2104) over MicroPython's hashlib, with the key's pads prepared once per key.
# MicroPython's hash objects cannot be copied, so the pads are kept as 64-byte strings and fed
# to a fresh hash per message; that still saves rebuilding them for every packet.
import hashlib

from micropython import const

_BLOCK = const(64)  # block size of SHA-1 and SHA-256


class Hmac:
    def __init__(self, key, hash_ctor):
        if len(key) > _BLOCK:
            key = hash_ctor(key).digest()
        padded = bytes(key) + bytes(_BLOCK - len(key))
        self._ipad = bytes(b ^ 0x36 for b in padded)
        self._opad = bytes(b ^ 0x5C for b in padded)
        self._hash = hash_ctor

    def digest(self, *parts):
        """HMAC of the concatenation of parts, without concatenating them."""
        inner = self._hash(self._ipad)
        for part in parts:
            inner.update(part)
        outer = self._hash(self._opad)
        outer.update(inner.digest())
        return outer.digest()


def hmac_sha1(key, msg):
    return Hmac(key, hashlib.sha1).digest(msg)


def hmac_sha256(key, msg):
    return Hmac(key, hashlib.sha256).digest(msg)


def compare_digest(a, b):
    """Constant-time equality for tags: the time depends on the length only, never the bytes."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
