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


if sys.implementation.name == "micropython":
    try:
        from ._g711_viper import decode_alaw as _dec_a
        from ._g711_viper import decode_ulaw as _dec_u
        from ._g711_viper import encode_alaw as _enc_a
        from ._g711_viper import encode_ulaw as _enc_u
        from ._g711_viper import swap16 as _swap

        VIPER = True
    except (ImportError, SyntaxError, ValueError):  # a build without the native emitter
        VIPER = False
else:
    VIPER = False
if not VIPER:
    from ._g711_py import decode_alaw as _dec_a
    from ._g711_py import decode_ulaw as _dec_u
    from ._g711_py import encode_alaw as _enc_a
    from ._g711_py import encode_ulaw as _enc_u
    from ._g711_py import swap16 as _swap


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


# Frame codecs by RTP payload type (rtp.PT_PCMU, rtp.PT_PCMA, rtp.PT_L16 = 96); each takes
# (src, out, n) with n in samples and returns the bytes written.
ENCODERS = {PT_PCMU: encode_ulaw, PT_PCMA: encode_alaw, 96: encode_l16}
DECODERS = {PT_PCMU: decode_ulaw, PT_PCMA: decode_alaw, 96: decode_l16}
