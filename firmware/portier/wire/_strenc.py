# Strings for the stanza encoder (docs/protocol.md 2.3-2.5): the shortest of token, packed
# nibble/hex, structural JID or raw UTF-8, sized and written. Each non-token string becomes its
# UTF-8 bytes once per pass (iterating a str would allocate a string per character on
# MicroPython).
from micropython import const

from . import tokens
from ._node import MAX_DEVICE, MAX_TEXT, StanzaError

_NIBBLE_SHORT = const(0xA0)  # 0xA0..0xBF: nibble string of 1..32 characters (byte - 0x9F)
_NIBBLE_SHORT_MAX = const(32)
_HEX_SHORT = const(0xC0)  # 0xC0..0xCF: hex string of 2..32 characters, 1..16 bytes (byte - 0xBF)
_HEX_SHORT_MAX = const(32)
_AD_JID = const(0xF7)
_JID_PAIR = const(0xFA)
_HEX_8 = const(0xFB)
_BINARY_8 = const(0xFC)
_BINARY_20 = const(0xFD)
_BINARY_32 = const(0xFE)
_NIBBLE_8 = const(0xFF)
_MAX_PACKED = const(254)  # characters: 127 bytes of two nibbles
_MAX_JID = const(255)  # longer user@server strings are sent raw
_K_NIBBLE = const(1)
_K_HEX = const(2)


def _nibble_of(o, hex_alphabet):
    # The 4-bit code of one byte value, or -1 when the alphabet lacks it.
    if 0x30 <= o <= 0x39:
        return o - 0x30
    if hex_alphabet:
        return o - 0x37 if 0x41 <= o <= 0x46 else -1
    if o == 0x2D:  # "-"
        return 10
    return 11 if o == 0x2E else -1  # "."


def _packed_kind(b, start, end):
    # _K_NIBBLE, _K_HEX or 0 for the UTF-8 bytes b[start:end] of a string.
    n = end - start
    if n <= 0 or n > _MAX_PACKED:
        return 0
    kind = _K_NIBBLE
    for i in range(start, end):
        o = b[i]
        if _nibble_of(o, False) < 0:
            if _nibble_of(o, True) < 0:
                return 0
            kind = _K_HEX
    if kind == _K_HEX:  # a "-" or "." rules hex out
        for i in range(start, end):
            if b[i] == 0x2D or b[i] == 0x2E:
                return 0
    return kind


def _jid_code(s, b):
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
    k = _packed_kind(b, 0, end)
    if k:
        return _packed_size(end, k == _K_HEX)
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
    k = _packed_kind(b, 0, n)
    if k:
        return _packed_size(n, k == _K_HEX)
    jid = _jid_code(s, b) if 0x40 in b else 0
    if jid:
        at = jid & 0xFF
        size = 1 if jid >> 16 == 0 else 2
        return size + _user_size(s, b, (jid >> 8) & 0xFF) + string_size(s[at + 1 :])
    if n > MAX_TEXT:
        raise StanzaError("string of %d bytes" % n)
    return binary_header_size(n) + n


def put_binary(buf, p, data):
    n = len(data)
    if n < 0x100:
        buf[p] = _BINARY_8
        buf[p + 1] = n
        p += 2
    elif n < 0x100000:
        buf[p] = _BINARY_20
        buf[p + 1] = n >> 16
        buf[p + 2] = (n >> 8) & 0xFF
        buf[p + 3] = n & 0xFF
        p += 4
    else:
        buf[p] = _BINARY_32
        buf[p + 1] = n >> 24
        buf[p + 2] = (n >> 16) & 0xFF
        buf[p + 3] = (n >> 8) & 0xFF
        buf[p + 4] = n & 0xFF
        p += 5
    buf[p : p + n] = data
    return p + n


def _put_packed(buf, p, b, end, hex_alphabet):
    # Packs b[0:end].
    n = end
    if hex_alphabet and n <= _HEX_SHORT_MAX and not n & 1:
        buf[p] = _HEX_SHORT + n // 2 - 1
        p += 1
    elif not hex_alphabet and n <= _NIBBLE_SHORT_MAX:
        buf[p] = _NIBBLE_SHORT + n - 1
        p += 1
    else:
        buf[p] = _HEX_8 if hex_alphabet else _NIBBLE_8
        buf[p + 1] = ((n + 1) // 2) | (0x80 if n & 1 else 0)
        p += 2
    for i in range(0, n - 1, 2):
        buf[p] = (_nibble_of(b[i], hex_alphabet) << 4) | _nibble_of(b[i + 1], hex_alphabet)
        p += 1
    if n & 1:
        buf[p] = (_nibble_of(b[n - 1], hex_alphabet) << 4) | 0x0F
        p += 1
    return p


def put_string(buf, p, s):
    t = tokens.index(s)
    if t:
        buf[p] = t
        return p + 1
    b = s.encode()
    n = len(b)
    k = _packed_kind(b, 0, n)
    if k:
        return _put_packed(buf, p, b, n, k == _K_HEX)
    jid = _jid_code(s, b) if 0x40 in b else 0
    if not jid:
        return put_binary(buf, p, b)
    at = jid & 0xFF
    user_end = (jid >> 8) & 0xFF
    if jid >> 16 == 0:
        buf[p] = _JID_PAIR
        p += 1
    else:
        buf[p] = _AD_JID
        buf[p + 1] = (jid >> 16) - 1
        p += 2
    k = _packed_kind(b, 0, user_end)
    if k:
        p = _put_packed(buf, p, b, user_end, k == _K_HEX)
    else:
        p = put_string(buf, p, s[:user_end])
    return put_string(buf, p, s[at + 1 :])
