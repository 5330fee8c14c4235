# Strings for the stanza decoder (docs/protocol.md 2.3-2.5): tokens, packed nibble/hex strings,
# JIDs and raw UTF-8 (checked strictly: both runtimes must refuse the same bytes).
from micropython import const

from . import tokens
from ._node import MAX_TEXT, StanzaError

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
_NIBBLE_CHARS = b"0123456789-."
_HEX_CHARS = b"0123456789ABCDEF"


def _utf8_ok(b):
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


def read_string(r):
    b = r.u8()
    if 0 < b <= tokens.MAX_TOKEN:
        if b >= len(tokens.TOKENS):
            raise StanzaError("unknown token 0x%02x" % b)
        return tokens.TOKENS[b]
    if _NIBBLE_SHORT <= b < _HEX_SHORT:
        n = b - _NIBBLE_SHORT + 1
        return _packed(r, _NIBBLE_CHARS, n, (n + 1) // 2)
    if _HEX_SHORT <= b < _SHORT_LIST:
        n = b - _HEX_SHORT + 1
        return _packed(r, _HEX_CHARS, 2 * n, n)
    if b == _NIBBLE_8 or b == _HEX_8:
        head = r.u8()
        nbytes = head & 0x7F
        if nbytes == 0:
            raise StanzaError("empty packed string")
        n = 2 * nbytes - (1 if head & 0x80 else 0)
        return _packed(r, _HEX_CHARS if b == _HEX_8 else _NIBBLE_CHARS, n, nbytes)
    if b == _BINARY_8 or b == _BINARY_20 or b == _BINARY_32:
        n = r.binary_len(b)
        if n > MAX_TEXT:
            raise StanzaError("string of %d bytes" % n)
        raw = r.take(n)
        if not _utf8_ok(raw):
            raise StanzaError("invalid UTF-8 in a string")
        return str(raw, "utf-8")
    if b == _JID_PAIR or b == _AD_JID:
        return _jid(r, b == _AD_JID)
    raise StanzaError("byte 0x%02x where a string belongs" % b)

def _packed(r, alphabet, nchars, nbytes):
    if nbytes > r.end - r.pos:
        raise StanzaError("truncated packed string")
    out = bytearray(nchars)
    limit = len(alphabet)
    data = r.data
    p = r.pos
    for i in range(nchars):
        byte = data[p + (i >> 1)]
        v = (byte & 0x0F) if i & 1 else (byte >> 4)
        if v >= limit:
            raise StanzaError("bad packed digit %d" % v)
        out[i] = alphabet[v]
    if nchars & 1 and data[p + nbytes - 1] & 0x0F != 0x0F:
        raise StanzaError("packed string pad is not F")
    r.pos = p + nbytes
    return str(out, "ascii")

def _jid(r, with_device):
    device = r.u8() if with_device else -1
    user = read_string(r)
    server = read_string(r)
    # Only the forms the encoder produces, so decode and encode are inverses.
    if not user or not server or "@" in user or "@" in server or ":" in user:
        raise StanzaError("malformed JID parts")
    if device < 0:
        return user + "@" + server
    return "%s:%d@%s" % (user, device, server)
