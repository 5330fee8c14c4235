# HMAC-SHA1 for SRTP tags with nothing allocated per packet.
#
# MicroPython's hashlib objects allocate on every use (about 380 bytes per HMAC-SHA1 on the
# host port) and cannot be copied, so a per-key inner/outer state cannot be reused through
# them. Here SHA-1 runs on one preallocated bytearray instead: the ipad and opad blocks are
# compressed once per key into midstates, and each tag costs the message blocks plus one outer
# compression (4 compressions for a 172-byte packet and its ROC, against 6 through hashlib).
# The compression runs in viper (_sha1_viper.py) where the emitter exists; the pure-Python twins
# in _sha1_py.py do the same work on the same layout and are the reference the tests hold it
# to. Where no viper is available, HashlibHmacSha1 gives identical tags from the C SHA-1 (it
# allocates).
import hashlib
import sys

from micropython import const

_BLOCK = const(64)
CTX_SIZE = const(612)
# ctx offsets: words 0..4 H, 5..9 inner midstate, 10..14 outer midstate, 16..95 W (bytes
# 64..383); bytes 384..511 inner tail, 512..575 outer block, 576..595 digest (big-endian),
# words 149..152 the round constants (viper reads them there: no long-int literals on a board).
CTX_W = const(16)
CTX_TAIL = const(384)
CTX_OUTER = const(512)
CTX_DIGEST = const(576)
CTX_K = const(149)


def get_word(ctx, i):
    o = i << 2
    return ctx[o] | (ctx[o + 1] << 8) | (ctx[o + 2] << 16) | (ctx[o + 3] << 24)


def set_word(ctx, i, x):  # words are little-endian, as ptr32 sees them on ESP32 and x64
    o = i << 2
    ctx[o] = x & 0xFF
    ctx[o + 1] = (x >> 8) & 0xFF
    ctx[o + 2] = (x >> 16) & 0xFF
    ctx[o + 3] = (x >> 24) & 0xFF


def put_be32(ctx, off, x):
    ctx[off] = (x >> 24) & 0xFF
    ctx[off + 1] = (x >> 16) & 0xFF
    ctx[off + 2] = (x >> 8) & 0xFF
    ctx[off + 3] = x & 0xFF


_H0 = b"\x67\x45\x23\x01\xef\xcd\xab\x89\x98\xba\xdc\xfe\x10\x32\x54\x76\xc3\xd2\xe1\xf0"


def _padded_key(key):
    if len(key) > _BLOCK:
        key = hashlib.sha1(key).digest()
    return bytes(key) + bytes(_BLOCK - len(key))


class CtxHmacSha1:
    """HMAC-SHA1 on one preallocated state; `impl` = (hmac, tag_op) functions."""

    def __init__(self, key, impl):
        self._hmac, self._tag_op = impl
        ctx = bytearray(CTX_SIZE)
        for i in range(4):
            set_word(ctx, CTX_K + i, (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6)[i])
        padded = _padded_key(key)
        for pad, mid in ((0x36, 5), (0x5C, 10)):
            for i in range(5):  # H0 as native words, read big-endian from the FIPS constant
                set_word(ctx, i, (_H0[4 * i] << 24) | (_H0[4 * i + 1] << 16)
                         | (_H0[4 * i + 2] << 8) | _H0[4 * i + 3])
            block = bytes(b ^ pad for b in padded)
            self._hmac(ctx, block, -1, 0)
            ctx[4 * mid: 4 * mid + 20] = ctx[0:20]
        ctx[CTX_OUTER + 20] = 0x80  # the outer message is always 20 bytes: its padding is fixed
        put_be32(ctx, CTX_OUTER + 60, (_BLOCK + 20) << 3)
        self._ctx = ctx

    def sign_into(self, data, n, roc, out, t):
        """Tag of data[:n] || roc (4 bytes, big-endian): its first t bytes go to data[out:].
        roc < 0: the 4 bytes are data[n:n+4] (a suffix that would be a long int as a value)."""
        self._hmac(self._ctx, data, n, roc)
        self._tag_op(self._ctx, data, out, t)

    def verify(self, data, n, roc, at, t):
        """True when data[at:at+t] is the t-byte tag of data[:n] || roc; constant time."""
        self._hmac(self._ctx, data, n, roc)
        return self._tag_op(self._ctx, data, at, -t) == 0

    def digest(self, data, n, roc):
        self._hmac(self._ctx, data, n, roc)
        return bytes(self._ctx[CTX_DIGEST:CTX_DIGEST + 20])


class HashlibHmacSha1:
    """Same interface over the C SHA-1: copies the keyed states where hashlib can (CPython),
    feeds the pads per message where it cannot (MicroPython). Allocates per call."""

    def __init__(self, key):
        padded = _padded_key(key)
        self._ipad = bytes(b ^ 0x36 for b in padded)
        self._opad = bytes(b ^ 0x5C for b in padded)
        inner = hashlib.sha1(self._ipad)
        self._inner = inner if hasattr(inner, "copy") else None
        self._outer = hashlib.sha1(self._opad) if self._inner else None
        self._roc = bytearray(4)

    def digest(self, data, n, roc):
        r = self._roc
        if roc < 0:  # the suffix is data[n:n+4], as in CtxHmacSha1
            for i in range(4):
                r[i] = data[n + i]
        else:
            r[0] = (roc >> 24) & 0xFF
            r[1] = (roc >> 16) & 0xFF
            r[2] = (roc >> 8) & 0xFF
            r[3] = roc & 0xFF
        if self._inner is not None:
            h = self._inner.copy()
            h.update(memoryview(data)[:n])
            h.update(r)
            o = self._outer.copy()
        else:
            h = hashlib.sha1(self._ipad)
            h.update(memoryview(data)[:n])
            h.update(r)
            o = hashlib.sha1(self._opad)
        o.update(h.digest())
        return o.digest()

    def sign_into(self, data, n, roc, out, t):
        data[out:out + t] = self.digest(data, n, roc)[:t]

    def verify(self, data, n, roc, at, t):
        tag = self.digest(data, n, roc)
        diff = 0
        for i in range(t):
            diff |= data[at + i] ^ tag[i]
        return diff == 0


def py_impl():
    """The pure-Python twins (imported on demand: a board with viper never loads them)."""
    from . import _sha1_py

    return (_sha1_py.hmac_py, _sha1_py.tag_op_py)


VIPER_IMPL = None
if sys.implementation.name == "micropython":
    try:
        from . import _sha1_viper

        VIPER_IMPL = (_sha1_viper.hmac, _sha1_viper.tag_op)
    except Exception:  # no native emitter in this firmware: hashlib does the work
        VIPER_IMPL = None


def new_hmac_sha1(key):
    """The fastest HMAC-SHA1 this runtime has: viper without allocation, else hashlib."""
    if VIPER_IMPL is not None:
        return CtxHmacSha1(key, VIPER_IMPL)
    return HashlibHmacSha1(key)
