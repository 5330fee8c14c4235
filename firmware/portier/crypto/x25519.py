# X25519 (RFC 7748) on MicroPython's big integers.
#
# Cost on the host MicroPython is dominated by the number of big-integer operations, and a `%`
# by p costs about three times a 256-bit multiply there. So the ladder reduces lazily: the four
# products that feed another product are reduced in full (a fold, then `%` on a value only a few
# bits above p: one quotient digit), the five that only feed additions get a single fold
# (lo + 38*hi, since 2^256 = 38 mod p), which keeps every value under 2^280 from step to step.
# The ladder runs the same operations for every scalar bit; the conditional swap selects through
# a two-slot list indexed by the swap bit instead of branching on it. MicroPython's bignum code
# itself is not constant time (its cost follows operand lengths), which no pure-Python ladder can
# change; see docs/security.md.
import os

from micropython import const

_KEY_LEN = const(32)
_A24 = const(121665)
_P = 2**255 - 19
_MASK256 = 2**256 - 1
_MASK255 = 2**255 - 1

BASE_POINT = b"\x09" + bytes(31)


def clamp(k):
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return k


def _swap_bits(k):
    # k is clamped: bit 254 is 1 (handled by the ladder's start) and bits 2..0 are 0 (plain
    # doublings at the end). out[i] is the swap before bit 253 - i; out[251] the final swap.
    out = bytearray(252)
    prev = 0
    j = 0
    for t in range(253, 2, -1):
        b = (k[t >> 3] >> (t & 7)) & 1
        out[j] = b ^ prev
        prev = b
        j += 1
    out[251] = prev
    return out


def _pow_sq(t, n, p, m):
    # t^(2^n) mod p; alternate a single fold and a full reduction to keep t near 256 bits
    for _ in range(n >> 1):
        t = t * t
        t = (t & m) + 38 * (t >> 256)
        t = t * t % p
    if n & 1:
        t = t * t % p
    return t


def _invert(z, p, m):
    # z^(p-2) by the usual 254-squaring addition chain; about half the cost of pow(z, p-2, p)
    # on MicroPython, whose three-argument pow reduces with a full division at every step.
    z2 = z * z % p
    t = z2 * z2 % p
    t = t * t % p
    z9 = t * z % p
    z11 = z9 * z2 % p
    t = z11 * z11 % p
    z5 = t * z9 % p  # z^(2^5 - 1)
    z10 = _pow_sq(z5, 5, p, m) * z5 % p
    z20 = _pow_sq(z10, 10, p, m) * z10 % p
    z40 = _pow_sq(z20, 20, p, m) * z20 % p
    z50 = _pow_sq(z40, 10, p, m) * z10 % p
    z100 = _pow_sq(z50, 50, p, m) * z50 % p
    z200 = _pow_sq(z100, 100, p, m) * z100 % p
    z250 = _pow_sq(z200, 50, p, m) * z50 % p
    return _pow_sq(z250, 5, p, m) * z11 % p


def x25519(k, u):
    """RFC 7748 X25519: 32-byte scalar k, 32-byte u-coordinate u -> 32-byte u-coordinate."""
    if len(k) != _KEY_LEN or len(u) != _KEY_LEN:
        raise ValueError("X25519 takes 32-byte inputs")
    swaps = _swap_bits(clamp(k))
    x1 = int.from_bytes(u, "little") & _MASK255
    p = _P
    m = _MASK256
    # Bit 254 is always set: after it R0 = P (x1 : 1) and R1 = 2P.
    x2 = x1
    z2 = 1
    a = x1 + 1
    b = x1 - 1
    aa = a * a % p
    bb = b * b % p
    e = aa - bb
    x3 = aa * bb
    z3 = e * (aa + _A24 * e)
    slot = [0, 0]
    for i in range(251):
        s = swaps[i]
        r = s ^ 1
        slot[0] = x2
        slot[1] = x3
        x2 = slot[s]
        x3 = slot[r]
        slot[0] = z2
        slot[1] = z3
        z2 = slot[s]
        z3 = slot[r]
        a = x2 + z2
        b = x2 - z2
        c = x3 + z3
        d = x3 - z3
        da = d * a
        cb = c * b
        aa = a * a
        aa = ((aa & m) + 38 * (aa >> 256)) % p
        bb = b * b
        bb = ((bb & m) + 38 * (bb >> 256)) % p
        x3 = da + cb
        x3 = ((x3 & m) + 38 * (x3 >> 256)) % p
        z3 = da - cb
        z3 = ((z3 & m) + 38 * (z3 >> 256)) % p
        x3 = x3 * x3
        x3 = (x3 & m) + 38 * (x3 >> 256)
        z3 = z3 * z3
        z3 = x1 * ((z3 & m) + 38 * (z3 >> 256))
        z3 = (z3 & m) + 38 * (z3 >> 256)
        e = aa - bb
        x2 = aa * bb
        x2 = (x2 & m) + 38 * (x2 >> 256)
        z2 = e * (aa + _A24 * e)
        z2 = (z2 & m) + 38 * (z2 >> 256)
    s = swaps[251]
    slot[0] = x2
    slot[1] = x3
    x2 = slot[s]
    slot[0] = z2
    slot[1] = z3
    z2 = slot[s]
    for _ in range(3):
        a = x2 + z2
        b = x2 - z2
        aa = a * a % p
        bb = b * b % p
        e = aa - bb
        x2 = aa * bb
        x2 = (x2 & m) + 38 * (x2 >> 256)
        z2 = e * (aa + _A24 * e)
        z2 = (z2 & m) + 38 * (z2 >> 256)
    # z2 = 0 (a low-order input) inverts to 0, giving the all-zero output RFC 7748 describes.
    out = x2 * _invert(z2 % p, p, m) % p
    return out.to_bytes(_KEY_LEN, "little")


def generate_private():
    """A fresh private scalar from os.urandom, already clamped."""
    return bytes(clamp(os.urandom(_KEY_LEN)))


def public_key(private):
    return x25519(private, BASE_POINT)
