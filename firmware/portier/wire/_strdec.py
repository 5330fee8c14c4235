# Strings for the stanza decoder (docs/protocol.md 2.3-2.5): tokens, packed nibble/hex strings,
# raw UTF-8 (checked strictly: both runtimes must refuse the same bytes) and JIDs (_jiddec.py).
from micropython import const

from . import tokens
from ._jiddec import read_jid
from ._node import MAX_TEXT, StanzaError
from ._textdec import HEX_CHARS, NIBBLE_CHARS, SCRATCH, SCRATCH_MV, unpack_into, utf8_ok

_NIBBLE_SHORT = const(0xA0)
_HEX_SHORT = const(0xC0)
_SHORT_LIST = const(0xD0)
_AD_JID = const(0xF7)
_JID_PAIR = const(0xFA)
_HEX_8 = const(0xFB)
_BINARY_8 = const(0xFC)
_BINARY_20 = const(0xFD)
_BINARY_32 = const(0xFE)
_NIBBLE_8 = const(0xFF)


def read_string(r):
    b = r.u8()
    if 0 < b <= tokens.MAX_TOKEN:
        if b >= len(tokens.TOKENS):
            raise StanzaError("unknown token 0x%02x" % b)
        return tokens.TOKENS[b]
    if _NIBBLE_SHORT <= b < _HEX_SHORT:
        n = b - _NIBBLE_SHORT + 1
        return _packed(r, NIBBLE_CHARS, n, (n + 1) // 2)
    if _HEX_SHORT <= b < _SHORT_LIST:
        n = b - _HEX_SHORT + 1
        return _packed(r, HEX_CHARS, 2 * n, n)
    if b == _NIBBLE_8 or b == _HEX_8:
        head = r.u8()
        nbytes = head & 0x7F
        if nbytes == 0:
            raise StanzaError("empty packed string")
        n = 2 * nbytes - (1 if head & 0x80 else 0)
        return _packed(r, HEX_CHARS if b == _HEX_8 else NIBBLE_CHARS, n, nbytes)
    if b == _BINARY_8 or b == _BINARY_20 or b == _BINARY_32:
        n = r.binary_len(b)
        if n > MAX_TEXT:
            raise StanzaError("string of %d bytes" % n)
        raw = r.take(n)
        if not utf8_ok(raw):
            raise StanzaError("invalid UTF-8 in a string")
        return str(raw, "utf-8")
    if b == _JID_PAIR or b == _AD_JID:
        return read_jid(r, b == _AD_JID)
    raise StanzaError("byte 0x%02x where a string belongs" % b)


def _packed(r, alphabet, nchars, nbytes):
    unpack_into(r, alphabet, nchars, nbytes, SCRATCH, 0)
    return str(SCRATCH_MV[:nchars], "ascii")
