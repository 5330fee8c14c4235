# HKDF with SHA-256 (RFC 5869): Signal's key derivation and Portier's call key -> SRTP master.
import hashlib

from micropython import const

from .hmac import Hmac

_HASH_LEN = const(32)
_MAX_OKM = const(255 * 32)  # RFC 5869 limit: 255 blocks


class HkdfError(ValueError):
    pass


def extract(salt, ikm):
    return Hmac(salt or bytes(_HASH_LEN), hashlib.sha256).digest(ikm)


def expand(prk, info, length):
    if length < 0 or length > _MAX_OKM:
        raise HkdfError("HKDF output length %d out of range" % length)
    if len(prk) < _HASH_LEN:
        raise HkdfError("HKDF PRK shorter than the hash")
    mac = Hmac(prk, hashlib.sha256)
    out = bytearray()
    block = b""
    counter = 1
    while len(out) < length:
        block = mac.digest(block, info, bytes((counter,)))
        out += block
        counter += 1
    return bytes(out[:length])


def hkdf(ikm, length, salt=b"", info=b""):
    return expand(extract(salt, ikm), info, length)
