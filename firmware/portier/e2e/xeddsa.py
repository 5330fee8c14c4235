# XEdDSA signatures over Curve25519 keys as libsignal makes them (signed prekeys): the X25519
# private key signs directly, the Edwards sign bit travels in the top bit of the signature's
# last byte. Needs SHA-512, which stock MicroPython lacks: host only (the board never signs or
# verifies; its signed prekey is signed during provisioning on the host). Variable-time
# arithmetic: fine for verification, and signing happens on a provisioning host.
import hashlib

from . import E2eError

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _sha512(*parts):
    ctor = getattr(hashlib, "sha512", None)
    if ctor is None:
        raise E2eError("XEdDSA needs SHA-512, which this runtime lacks")
    h = ctor()
    for part in parts:
        h.update(part)
    return h.digest()


def _inv(x):
    return pow(x, _P - 2, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * _inv(_D * y * y + 1) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if x & 1 != sign:
        x = _P - x
    return x


# Points in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z.
def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(k, p):
    q = (0, 1, 1, 0)
    while k:
        if k & 1:
            q = _add(q, p)
        p = _add(p, p)
        k >>= 1
    return q


def _encode(p):
    zi = _inv(p[2])
    x = p[0] * zi % _P
    y = p[1] * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


_BY = 4 * _inv(5) % _P
_BX = _recover_x(_BY, 0)
_B = (_BX, _BY, 1, _BX * _BY % _P)


def _scalar(data):
    return int.from_bytes(data, "little") % _L


def sign(private, message, random64):
    """64-byte XEdDSA signature of message by the X25519 private key (32 bytes, clamped here)."""
    if len(private) != 32 or len(random64) != 64:
        raise E2eError("XEdDSA sign takes a 32-byte key and 64 random bytes")
    k = bytearray(private)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    key = bytes(k)
    a = int.from_bytes(key, "little") % _L
    a_enc = _encode(_mul(a, _B))
    r = _scalar(_sha512(b"\xfe" + b"\xff" * 31, key, message, random64))
    r_enc = _encode(_mul(r, _B))
    h = _scalar(_sha512(r_enc, a_enc, message))
    s = (h * a + r) % _L
    sig = bytearray(r_enc + s.to_bytes(32, "little"))
    sig[63] = (sig[63] & 0x7F) | (a_enc[31] & 0x80)
    return bytes(sig)


def verify(public, message, signature):
    """True if signature (64 bytes) is a valid XEdDSA signature by the X25519 key public (raw 32
    bytes or 33 with the 0x05 prefix)."""
    if len(public) == 33 and public[0] == 5:
        public = public[1:]
    if len(public) != 32 or len(signature) != 64:
        return False
    u = int.from_bytes(public, "little") & (2**255 - 1)
    u %= _P
    if u == _P - 1:
        return False
    y = (u - 1) * _inv(u + 1) % _P
    x = _recover_x(y, signature[63] >> 7)
    if x is None:
        return False
    a_point = (x, y, 1, x * y % _P)
    a_enc = _encode(a_point)
    s = bytearray(signature[32:])
    s[31] &= 0x7F
    if s[31] & 0xE0:
        return False
    h = _scalar(_sha512(signature[:32], a_enc, message))
    minus_a = ((_P - x) % _P, y, 1, (_P - x) * y % _P)
    check = _add(_mul(int.from_bytes(s, "little"), _B), _mul(h, minus_a))
    return _encode(check) == bytes(signature[:32])
