# Strings for the stanza encoder, second pass: writing the encoding _strsize.py chose.
from micropython import const

from . import tokens
from ._strsize import HEX_CODE, K_HEX, NIBBLE_CODE, jid_code, packed_kind

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
    code = HEX_CODE if hex_alphabet else NIBBLE_CODE
    for i in range(0, n - 1, 2):
        buf[p] = (code[b[i]] << 4) | code[b[i + 1]]
        p += 1
    if n & 1:
        buf[p] = (code[b[n - 1]] << 4) | 0x0F
        p += 1
    return p


def put_string(buf, p, s):
    t = tokens.index(s)
    if t:
        buf[p] = t
        return p + 1
    b = s.encode()
    n = len(b)
    k = packed_kind(b, 0, n)
    if k:
        return _put_packed(buf, p, b, n, k == K_HEX)
    jid = jid_code(s, b) if 0x40 in b else 0
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
    k = packed_kind(b, 0, user_end)
    if k:
        p = _put_packed(buf, p, b, user_end, k == K_HEX)
    else:
        p = put_string(buf, p, s[:user_end])
    return put_string(buf, p, s[at + 1 :])
