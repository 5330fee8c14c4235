# Strings for the stanza encoder, first pass (docs/protocol.md 2.3-2.6): which encoding a string
# gets and how many bytes it takes. Each non-token string becomes its UTF-8 bytes once per pass
# (iterating a str would allocate a string per character on MicroPython).
from micropython import const

from . import tokens
from ._node import MAX_DEVICE, MAX_TEXT, StanzaError

_NIBBLE_SHORT_MAX = const(32)
_HEX_SHORT_MAX = const(32)
_MAX_PACKED = const(254)  # characters: 127 bytes of two nibbles
_MAX_JID = const(255)  # longer user@server strings are sent raw
K_NIBBLE = const(1)
K_HEX = const(2)


def _code_table(alphabet):
    # byte value -> 4-bit code, 0xFF when the alphabet lacks it (a lookup, not a call per byte)
    t = bytearray(b"\xff" * 256)
    for i in range(len(alphabet)):
        t[alphabet[i]] = i
    return bytes(t)


NIBBLE_CODE = _code_table(b"0123456789-.")
HEX_CODE = _code_table(b"0123456789ABCDEF")


def packed_kind(b, start, end):
    # K_NIBBLE, K_HEX or 0 for the UTF-8 bytes b[start:end] of a string.
    n = end - start
    if n <= 0 or n > _MAX_PACKED:
        return 0
    nib = NIBBLE_CODE
    hx = HEX_CODE
    kind = K_NIBBLE
    for i in range(start, end):
        o = b[i]
        if nib[o] == 0xFF:
            if hx[o] == 0xFF:
                return 0
            kind = K_HEX
    if kind == K_HEX:  # a "-" or "." rules hex out
        for i in range(start, end):
            if hx[b[i]] == 0xFF:
                return 0
    return kind


def jid_code(s, b):
    # For a canonical JID "user[:device]@server" (ASCII, at most _MAX_JID bytes):
    # at | colon << 8 | (device + 1) << 16, where colon = at and device = -1 when there is no
    # device; 0 when s is not one. One small int, so the encoder's JID test allocates nothing.
    n = len(b)
    if n > _MAX_JID or n != len(s):
        return 0
    at = b.find(b"@")
    if at <= 0 or at == n - 1 or b.find(b"@", at + 1) >= 0:
        return 0
    colon = b.find(b":", 0, at)
    if colon < 0:
        return at | (at << 8)
    digits = at - colon - 1
    if colon == 0 or digits < 1 or digits > 3 or (digits > 1 and b[colon + 1] == 0x30):
        return 0
    device = 0
    for i in range(colon + 1, at):
        o = b[i]
        if o < 0x30 or o > 0x39:
            return 0
        device = device * 10 + o - 0x30
    if device > MAX_DEVICE:
        return 0
    return at | (colon << 8) | ((device + 1) << 16)


def _check_str(s):
    if not isinstance(s, str):
        raise StanzaError("strings only, got %s" % type(s).__name__)


def binary_header_size(n):
    if n < 0x100:
        return 2
    if n < 0x100000:
        return 4
    return 5


def _packed_size(n, hex_alphabet):
    if hex_alphabet:
        short = n <= _HEX_SHORT_MAX and not n & 1
    else:
        short = n <= _NIBBLE_SHORT_MAX
    return (1 if short else 2) + (n + 1) // 2


def _user_size(s, b, end):
    # A JID's user: packed when it packs (even if it is a token), else token or raw.
    k = packed_kind(b, 0, end)
    if k:
        return _packed_size(end, k == K_HEX)
    return string_size(s[:end])


def string_size(s):
    _check_str(s)
    if tokens.index(s):
        return 1
    try:
        b = s.encode()
    except UnicodeError:  # CPython: a lone surrogate has no UTF-8 form
        raise StanzaError("string without a UTF-8 form")
    n = len(b)
    k = packed_kind(b, 0, n)
    if k:
        return _packed_size(n, k == K_HEX)
    jid = jid_code(s, b) if 0x40 in b else 0
    if jid:
        at = jid & 0xFF
        size = 1 if jid >> 16 == 0 else 2
        return size + _user_size(s, b, (jid >> 8) & 0xFF) + string_size(s[at + 1 :])
    if n > MAX_TEXT:
        raise StanzaError("string of %d bytes" % n)
    return binary_header_size(n) + n
