# JIDs for the stanza decoder (docs/protocol.md 2.5), composed in the scratch buffer so a JID
# costs one string, not one per part.
from micropython import const

from . import tokens
from ._node import MAX_TEXT, StanzaError
from ._textdec import HEX_CHARS, NIBBLE_CHARS, SCRATCH, SCRATCH_LEN, SCRATCH_MV, unpack_into, utf8_ok

_NIBBLE_SHORT = const(0xA0)
_HEX_SHORT = const(0xC0)
_SHORT_LIST = const(0xD0)
_HEX_8 = const(0xFB)
_BINARY_8 = const(0xFC)
_BINARY_20 = const(0xFD)
_BINARY_32 = const(0xFE)
_NIBBLE_8 = const(0xFF)


def _part_into(r, q):
    # One JID part (a token, packed or raw string; never a JID) as text into SCRATCH[q:];
    # returns the end.
    b = r.u8()
    room = SCRATCH_LEN - q
    if 0 < b <= tokens.MAX_TOKEN:
        if b >= len(tokens.TOKENS):
            raise StanzaError("unknown token 0x%02x" % b)
        raw = tokens.TOKENS[b].encode()
    elif b == _BINARY_8 or b == _BINARY_20 or b == _BINARY_32:
        n = r.binary_len(b)
        if n > MAX_TEXT:
            raise StanzaError("string of %d bytes" % n)
        raw = r.take(n)
    elif _NIBBLE_SHORT <= b < _SHORT_LIST or b == _NIBBLE_8 or b == _HEX_8:
        alphabet = HEX_CHARS if b == _HEX_8 or b >= _HEX_SHORT else NIBBLE_CHARS
        if b == _NIBBLE_8 or b == _HEX_8:
            head = r.u8()
            nbytes = head & 0x7F
            if nbytes == 0:
                raise StanzaError("empty packed string")
            n = 2 * nbytes - (1 if head & 0x80 else 0)
        elif b >= _HEX_SHORT:
            nbytes = b - _HEX_SHORT + 1
            n = 2 * nbytes
        else:
            n = b - _NIBBLE_SHORT + 1
            nbytes = (n + 1) // 2
        if n > room:
            raise StanzaError("JID too long")
        return unpack_into(r, alphabet, n, nbytes, SCRATCH, q)
    else:
        raise StanzaError("byte 0x%02x where a JID part belongs" % b)
    if len(raw) > room:
        raise StanzaError("JID too long")
    SCRATCH[q : q + len(raw)] = raw
    return q + len(raw)


def read_jid(r, with_device):
    device = r.u8() if with_device else -1
    u = _part_into(r, 0)
    if u + 5 > SCRATCH_LEN:
        raise StanzaError("JID too long")
    q = u
    if device >= 0:
        SCRATCH[q] = 0x3A  # ":"
        q += 1
        if device >= 100:
            SCRATCH[q] = 0x30 + device // 100
            q += 1
        if device >= 10:
            SCRATCH[q] = 0x30 + device // 10 % 10
            q += 1
        SCRATCH[q] = 0x30 + device % 10
        q += 1
    SCRATCH[q] = 0x40  # "@"
    q += 1
    end = _part_into(r, q)
    # Only the forms the encoder produces, so decode and encode are inverses.
    if u == 0 or end == q or _has(0x40, 0, u) or _has(0x3A, 0, u) or _has(0x40, q, end):
        raise StanzaError("malformed JID parts")
    text = SCRATCH_MV[:end]
    if not utf8_ok(text):
        raise StanzaError("invalid UTF-8 in a JID")
    return str(text, "utf-8")


def _has(byte, start, end):
    for i in range(start, end):
        if SCRATCH[i] == byte:
            return True
    return False
