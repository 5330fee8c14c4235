# Helpers shared by the string decoders (docs/protocol.md 2.3, 2.7): strict UTF-8, unpacking
# nibble/hex strings, and the one scratch buffer strings are built in.
from micropython import const

from ._node import StanzaError

NIBBLE_CHARS = b"0123456789-."
HEX_CHARS = b"0123456789ABCDEF"
SCRATCH_LEN = const(512)  # JIDs are at most 255 bytes when encoded (_strsize.py)
SCRATCH = bytearray(SCRATCH_LEN)  # made once: decoding a string builds no temporary buffer
SCRATCH_MV = memoryview(SCRATCH)


def utf8_ok(b):
    # Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points above U+10FFFF.
    # MicroPython's own check lets those through, and both runtimes must agree.
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        lo = 0x80
        hi = 0xBF
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif 0xE0 <= c <= 0xEF:
            need = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F
        elif 0xF0 <= c <= 0xF4:
            need = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        else:
            return False
        if i + need >= n or not lo <= b[i + 1] <= hi:
            return False
        for j in range(i + 2, i + need + 1):
            if not 0x80 <= b[j] <= 0xBF:
                return False
        i += need + 1
    return True


def unpack_into(r, alphabet, nchars, nbytes, out, q):
    # Writes the nchars characters of a packed string into out[q:]; returns the end.
    if nbytes > r.end - r.pos:
        raise StanzaError("truncated packed string")
    limit = len(alphabet)
    data = r.data
    p = r.pos
    for i in range(nchars):
        byte = data[p + (i >> 1)]
        v = (byte & 0x0F) if i & 1 else (byte >> 4)
        if v >= limit:
            raise StanzaError("bad packed digit %d" % v)
        out[q + i] = alphabet[v]
    if nchars & 1 and data[p + nbytes - 1] & 0x0F != 0x0F:
        raise StanzaError("packed string pad is not F")
    r.pos = p + nbytes
    return q + nchars
