# G.711 μ-law / A-law (ITU-T G.711, bit-exact with the Sun/CCITT reference code that CPython's
# audioop uses) and L16 (RFC 3551: big-endian 16-bit), frame by frame into preallocated buffers.
#
# PCM is little-endian signed 16-bit (the I2S byte order) in any bytes-like object; `out` is a
# preallocated bytearray. Each call returns the number of bytes written. `n` is the number of
# samples (or codes) to convert; -1 means all of the input. Nothing here allocates once the
# sizes are checked, so a media frame runs under micropython.heap_lock().
import sys

from micropython import const

PT_PCMU = const(0)  # RFC 3551 static payload types
PT_PCMA = const(8)
SILENCE_ULAW = const(0xFF)
SILENCE_ALAW = const(0xD5)


def _check(n, have_in, unit_in, out, unit_out):
    if n < 0:
        n = have_in // unit_in
    elif n * unit_in > have_in:
        raise ValueError("input holds fewer than %d samples" % n)
    if n * unit_out > len(out):
        raise ValueError("output buffer too small for %d samples" % n)
    return n


# ---- pure twins: the reference algorithm, one sample at a time ------------------------------

def _encode_ulaw_py(pcm, out, n):
    for i in range(n):
        v = pcm[2 * i] | (pcm[2 * i + 1] << 8)
        if v & 0x8000:
            v -= 0x10000
        v >>= 2
        mask = 0xFF
        if v < 0:
            v = -v
            mask = 0x7F
        v += 33
        seg = 0
        end = 0x3F
        while seg < 8 and v > end:
            seg += 1
            end = (end << 1) | 1
        if seg >= 8:
            out[i] = 0x7F ^ mask
        else:
            out[i] = ((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask


def _decode_ulaw_py(codes, out, n):
    for i in range(n):
        u = codes[i] ^ 0xFF
        t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
        v = 0x84 - t if u & 0x80 else t - 0x84
        out[2 * i] = v & 0xFF
        out[2 * i + 1] = (v >> 8) & 0xFF


def _encode_alaw_py(pcm, out, n):
    for i in range(n):
        v = pcm[2 * i] | (pcm[2 * i + 1] << 8)
        if v & 0x8000:
            v -= 0x10000
        v >>= 3
        mask = 0xD5
        if v < 0:
            mask = 0x55
            v = -v - 1
        seg = 0
        end = 0x1F
        while seg < 8 and v > end:
            seg += 1
            end = (end << 1) | 1
        if seg >= 8:
            out[i] = 0x7F ^ mask
        elif seg < 2:
            out[i] = ((seg << 4) | ((v >> 1) & 0xF)) ^ mask
        else:
            out[i] = ((seg << 4) | ((v >> seg) & 0xF)) ^ mask


def _decode_alaw_py(codes, out, n):
    for i in range(n):
        a = codes[i] ^ 0x55
        seg = (a & 0x70) >> 4
        t = (a & 0x0F) << 4
        if seg == 0:
            t += 8
        elif seg == 1:
            t += 0x108
        else:
            t = (t + 0x108) << (seg - 1)
        if not a & 0x80:
            t = -t
        out[2 * i] = t & 0xFF
        out[2 * i + 1] = (t >> 8) & 0xFF


def _swap16_py(src, out, n):
    for i in range(n):
        lo = src[2 * i]
        out[2 * i] = src[2 * i + 1]
        out[2 * i + 1] = lo


_enc_u, _dec_u, _enc_a, _dec_a, _swap = (
    _encode_ulaw_py, _decode_ulaw_py, _encode_alaw_py, _decode_alaw_py, _swap16_py)
if sys.implementation.name == "micropython":
    try:
        from ._g711_viper import encode_ulaw as _enc_u
        from ._g711_viper import decode_ulaw as _dec_u
        from ._g711_viper import encode_alaw as _enc_a
        from ._g711_viper import decode_alaw as _dec_a
        from ._g711_viper import swap16 as _swap
    except (ImportError, SyntaxError, ValueError):  # a build without the native emitter
        pass
VIPER = _enc_u is not _encode_ulaw_py


# ---- public API -----------------------------------------------------------------------------

def encode_ulaw(pcm, out, n=-1):
    n = _check(n, len(pcm), 2, out, 1)
    _enc_u(pcm, out, n)
    return n


def decode_ulaw(codes, out, n=-1):
    n = _check(n, len(codes), 1, out, 2)
    _dec_u(codes, out, n)
    return 2 * n


def encode_alaw(pcm, out, n=-1):
    n = _check(n, len(pcm), 2, out, 1)
    _enc_a(pcm, out, n)
    return n


def decode_alaw(codes, out, n=-1):
    n = _check(n, len(codes), 1, out, 2)
    _dec_a(codes, out, n)
    return 2 * n


def encode_l16(pcm, out, n=-1):
    """Little-endian PCM to the RFC 3551 L16 payload (network byte order)."""
    n = _check(n, len(pcm), 2, out, 2)
    _swap(pcm, out, n)
    return 2 * n


def decode_l16(payload, out, n=-1):
    n = _check(n, len(payload), 2, out, 2)
    _swap(payload, out, n)
    return 2 * n

