# Attribute values of the call stanzas (docs/protocol.md 3.1): read (wire text -> field value,
# checked) and write (field value -> wire text), driven by the kinds in _calltables.py.
from micropython import const

from portier.wire._node import StanzaError  # not .stanza: the call layer needs no codec

from . import _callkinds as T

_MAX_ID = const(64)
_MAX_REASON = const(32)
_MAX_U32 = const(0xFFFFFFFF)


class CallStanzaError(StanzaError):
    pass


def _fail(what, value):
    raise CallStanzaError("bad %s: %r" % (what, value))


def _ascii_decimal(s):
    # str.isdigit() also takes other scripts' digits on CPython (not on MicroPython)
    if not s or len(s) > 10 or (s[0] == "0" and s != "0"):
        return False
    for c in s:
        if not "0" <= c <= "9":
            return False
    return True


def read_value(kind, s, what):
    """Wire text -> field value, checked."""
    if kind == T.STR:
        return s
    if kind == T.DEC or kind == T.LATENCY:
        if not _ascii_decimal(s) or int(s) > _MAX_U32:
            _fail(what, s)
        return int(s) & 0xFFFFFF if kind == T.LATENCY else int(s)
    if kind == T.BOOL:
        if s != "0" and s != "1":
            _fail(what, s)
        return s == "1"
    if kind == T.ENCTYPE:
        if s != "pkmsg" and s != "msg":
            _fail(what, s)
        return s
    if kind == T.JID:
        at = s.find("@")
        if at <= 0 or at == len(s) - 1 or s.find("@", at + 1) >= 0:
            _fail(what, s)
        return s
    limit = _MAX_REASON if kind == T.REASON else _MAX_ID
    if not s or len(s) > limit:
        _fail(what, s)
    for c in s:
        o = ord(c)
        if kind == T.REASON:
            ok = 0x61 <= o <= 0x7A or 0x30 <= o <= 0x39 or o == 0x5F or o == 0x2D
        else:
            ok = o < 0x7F and (c.isalpha() or c.isdigit() or o == 0x2E or o == 0x5F or o == 0x2D)
        if not ok:
            _fail(what, s)
    return s


def _write_value(kind, v, what):
    if kind == T.DEC or kind == T.LATENCY:
        if not isinstance(v, int) or v < 0:
            _fail(what, v)
        s = str(v + T.LATENCY_BASE if kind == T.LATENCY else v)
    elif kind == T.BOOL:
        s = "1" if v else "0"
    else:
        s = v
    if not isinstance(s, str):
        _fail(what, v)
    read_value(kind, s, what)  # a builder never emits what the parser would refuse
    return s


def _put_attrs(spec, obj, out):
    for i in range(0, len(spec), 4):
        wire = spec[i]
        kind = spec[i + 2] & 0x0F
        if kind == T.FIXED:
            out[wire] = spec[i + 3]
            continue
        v = getattr(obj, spec[i + 1])
        if v is None:
            if spec[i + 2] & T.REQ:
                raise CallStanzaError("missing %s" % spec[i + 1])
        else:
            out[wire] = _write_value(kind, v, wire)


def _get_attrs(spec, node, obj):
    # node None: the element is absent, so are its attributes (required or not)
    for i in range(0, len(spec), 4):
        kind = spec[i + 2] & 0x0F
        if kind == T.FIXED:
            continue
        s = None if node is None else node.attrs.get(spec[i])
        if s is None:
            if node is not None and spec[i + 2] & T.REQ:
                raise CallStanzaError("<%s> without %s" % (node.tag, spec[i]))
            setattr(obj, spec[i + 1], None)
        else:
            setattr(obj, spec[i + 1], read_value(kind, s, spec[i]))
