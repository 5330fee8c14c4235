# Signal's key derivation and message cipher (libsignal v3): chain and root KDFs, message keys,
# X25519 agreement on 33-byte keys, AES-256-CBC with PKCS#7 through cryptolib.
import hashlib

import cryptolib
from micropython import const

from portier.crypto.hkdf import hkdf
from portier.crypto.hmac import Hmac
from portier.crypto.x25519 import x25519

from . import E2eError
from .messages import decode_key

_MODE_CBC = const(2)
_BLOCK = const(16)


def chain_step(chain_key):
    """-> (message key seed, next chain key): HMAC-SHA256(CK, 0x01) and (CK, 0x02)."""
    mac = Hmac(chain_key, hashlib.sha256)
    return mac.digest(b"\x01"), mac.digest(b"\x02")


def message_keys(seed):
    """-> (cipher key 32, mac key 32, iv 16) = HKDF(seed, salt 0, "WhisperMessageKeys", 80)."""
    okm = hkdf(seed, 80, b"", b"WhisperMessageKeys")
    return okm[:32], okm[32:64], okm[64:]


def root_step(root_key, dh_out):
    """KDF_RK: -> (new root key, new chain key) = HKDF(dh, salt RK, "WhisperRatchet", 64)."""
    okm = hkdf(dh_out, 64, root_key, b"WhisperRatchet")
    return okm[:32], okm[32:]


def agree(private, public33):
    """X25519 with a 33-byte serialized public key; an all-zero result (low-order key) raises."""
    out = x25519(private, decode_key(public33))
    if out == bytes(32):
        raise E2eError("low-order public key")
    return out


def cbc_encrypt(key, iv, plaintext):
    n = _BLOCK - len(plaintext) % _BLOCK
    padded = bytearray(plaintext)
    padded.extend(bytes((n,)) * n)
    cryptolib.aes(key, _MODE_CBC, iv).encrypt(padded, padded)
    return bytes(padded)


def cbc_decrypt(key, iv, ciphertext):
    if not ciphertext or len(ciphertext) % _BLOCK:
        raise E2eError("ciphertext is not a multiple of 16 bytes")
    out = bytearray(ciphertext)
    cryptolib.aes(key, _MODE_CBC, iv).decrypt(out, out)
    n = out[-1]
    bad = 0 if 1 <= n <= _BLOCK else 1
    for i in range(1, _BLOCK + 1):  # the same work whatever n is
        if i <= n and out[-i] != n:
            bad = 1
    if bad:
        raise E2eError("bad PKCS#7 padding")
    return bytes(out[:-n])
