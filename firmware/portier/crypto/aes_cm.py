# AES counter mode (RFC 3711 4.1.1 AES-CM) over cryptolib's ECB, which stock ESP32 firmware has
# in C (hardware-backed) while CTR is missing. Per call: lay counter blocks into a preallocated
# buffer, encrypt the buffer in place with one ECB call, XOR it over the data. Nothing is
# allocated per call: the partial-buffer memoryviews are made once, one per block count.
import sys

import cryptolib
from micropython import const

_ECB = const(1)
DEFAULT_BLOCKS = const(48)  # 768 B: a 640 B L16 frame plus header extensions in one ECB call


def iv_build_py(iv, salt, hdr, roc):
    """Pure twin: iv = salt ^ SSRC(hdr[8:12]) << 64 ^ (roc << 16 | seq(hdr[2:4])) << 16."""
    for i in range(16):
        iv[i] = salt[i]
    for i in range(4, 8):
        iv[i] ^= hdr[i + 4]
    iv[8] ^= (roc >> 24) & 0xFF
    iv[9] ^= (roc >> 16) & 0xFF
    iv[10] ^= (roc >> 8) & 0xFF
    iv[11] ^= roc & 0xFF
    iv[12] ^= hdr[2]
    iv[13] ^= hdr[3]


def ctr_fill_py(blocks, iv):
    """Pure twin: counter blocks iv, iv+1, ... (low 16 bits) over `blocks`; iv moves on."""
    ctr = (iv[14] << 8) | iv[15]
    for o in range(0, len(blocks), 16):
        for i in range(14):
            blocks[o + i] = iv[i]
        blocks[o + 14] = (ctr >> 8) & 0xFF
        blocks[o + 15] = ctr & 0xFF
        ctr = (ctr + 1) & 0xFFFF
    iv[14] = ctr >> 8
    iv[15] = ctr & 0xFF


def xor_into_py(buf, off, ks, n):
    """Pure twin: buf[off:off+n] ^= ks[:n]."""
    for i in range(n):
        buf[off + i] ^= ks[i]


PY_IMPL = (iv_build_py, ctr_fill_py, xor_into_py)
VIPER_IMPL = None
if sys.implementation.name == "micropython":
    try:
        from . import _xor_viper

        VIPER_IMPL = (_xor_viper.iv_build, _xor_viper.ctr_fill, _xor_viper.xor_into)
    except Exception:  # no native emitter in this firmware
        VIPER_IMPL = None
DEFAULT_IMPL = VIPER_IMPL or PY_IMPL


class KeystreamBuffer:
    """Counter/keystream workspace; the ciphers of one SRTP context share one."""

    def __init__(self, blocks=DEFAULT_BLOCKS):
        if blocks < 1 or blocks > 4096:
            raise ValueError("keystream blocks %d" % blocks)
        self.blocks = blocks
        self.ks = bytearray(16 * blocks)
        ks = memoryview(self.ks)
        self.views = [ks[: 16 * i] for i in range(blocks + 1)]
        self.iv = bytearray(16)


class AesCm:
    """AES-128-CM with a 14-byte session salt, as SRTP and its key derivation use it."""

    def __init__(self, key, salt, kbuf=None, impl=None):
        if len(key) != 16:
            raise ValueError("AES-CM key must be 16 bytes")
        if len(salt) not in (14, 16):
            raise ValueError("AES-CM salt must be 14 bytes")
        self._ecb = cryptolib.aes(bytes(key), _ECB)  # one ECB object per key, kept for its life
        self._salt = bytearray(16)
        self._salt[: len(salt)] = salt
        kbuf = kbuf or KeystreamBuffer()
        self._kbuf = kbuf
        self._iv = kbuf.iv
        self._ks = kbuf.ks
        self._views = kbuf.views
        self._cap = 16 * kbuf.blocks
        self._iv_build, self._ctr_fill, self._xor = impl or DEFAULT_IMPL

    def crypt_into(self, buf, off, n, hdr, roc):
        """XOR the keystream for SSRC hdr[8:12] and index roc*2**16 + hdr[2:4] over
        buf[off:off+n], in place (encrypts and decrypts alike)."""
        self._iv_build(self._iv, self._salt, hdr, roc)
        if n > self._cap:
            self._run(buf, off, n)
            return
        view = self._views[(n + 15) >> 4]  # the per-packet path: one ECB call, no loop
        self._ctr_fill(view, self._iv)
        self._ecb.encrypt(view, view)
        self._xor(buf, off, self._ks, n)

    def crypt_iv_into(self, buf, off, n, iv):
        """The same from an explicit 16-byte initial counter block (its low 16 bits count)."""
        self._iv[:] = iv
        self._run(buf, off, n)

    def _run(self, buf, off, n):
        cap = self._cap
        while n > 0:
            step = n if n < cap else cap
            view = self._views[(step + 15) >> 4]
            self._ctr_fill(view, self._iv)
            self._ecb.encrypt(view, view)
            self._xor(buf, off, self._ks, step)
            off += step
            n -= step
