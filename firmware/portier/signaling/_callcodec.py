# The generic engine behind portier.signaling.stanzas: builds a Node from a Stanza and parses a
# Node back, driven by the tables in _calltables.py. Parsing checks required attributes, value
# syntax and child order, and raises CallStanzaError (a StanzaError) for anything else.
from micropython import const

from portier.wire.stanza import Node, StanzaError

from . import _calltables as T

_MAX_ID = const(64)
_MAX_REASON = const(32)
_MAX_U32 = const(0xFFFFFFFF)


class CallStanzaError(StanzaError):
    pass


class Stanza:
    """One call stanza: `.action` plus the fields its table names (None when absent)."""

    def __init__(self, action, **fields):
        table = T.TABLES.get(action)
        self.action = action
        if action in T.CALL_ACTIONS or action == "unknown":
            for a in T.ENVELOPE:
                setattr(self, a[1], None)
        if table is not None:
            _defaults(self, table)
        for k in fields:
            if not hasattr(self, k) and action != "unknown":
                raise CallStanzaError("%s has no field %s" % (action, k))
            v = fields[k]
            # one form per value, so built and parsed stanzas compare equal
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, (bytearray, memoryview)):
                v = bytes(v)
            setattr(self, k, None if v == [] else v)
        if action == "transport" and "net_protocol" not in fields:
            self.net_protocol = None if self.message_type == 9 else 0  # the model: absent for type 9
        if action == "heartbeat" and self.to is None and self.frm is None:
            self.to = "%s@%s" % (self.call_id, T.CALL_SERVER)  # the call object, not the peer

    def __eq__(self, other):
        return isinstance(other, Stanza) and self.__dict__ == other.__dict__

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        d = self.__dict__
        return "Stanza(%s)" % ", ".join("%s=%r" % (k, d[k]) for k in sorted(d))

    def to_node(self):
        from ._callnodes import build_node  # imported here: _callnodes imports this module

        if self.action == "unknown":
            return _envelope(self, self.node)
        node = build_node(self.action, self)
        return _envelope(self, node) if self.action in T.CALL_ACTIONS else node


def _defaults(obj, table):
    for a in table[0]:
        if a[2] != T.FIXED:
            setattr(obj, a[1], a[4])
    if table[2]:
        obj.extra = {}
    if table[3]:
        setattr(obj, table[3], None)
    for c in table[1]:
        for a in c[4]:
            if a[2] != T.FIXED:
                setattr(obj, a[1], a[4])
        kind = c[1]
        if kind == T.ENCS:
            obj.enc = None
            obj.destination = None
        elif kind == T.RECEIPT_OF:
            obj.of = "offer"
            obj.call_id = None
            obj.call_creator = None
        elif c[3] is not None:
            setattr(obj, c[3], c[5] if kind == T.BODY else None)


# ---- values ----


def _fail(what, value):
    raise CallStanzaError("bad %s: %r" % (what, value))


def read_value(kind, s, what):
    """Wire text -> field value, checked."""
    if kind == T.STR:
        return s
    if kind == T.DEC or kind == T.LATENCY:
        if not s or len(s) > 10 or not s.isdigit() or (s[0] == "0" and s != "0") or int(s) > _MAX_U32:
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
    for wire, field, kind, required, default in spec:
        if kind == T.FIXED:
            out[wire] = default
            continue
        v = getattr(obj, field)
        if v is None:
            if required:
                raise CallStanzaError("missing %s" % field)
        else:
            out[wire] = _write_value(kind, v, wire)


def _get_attrs(spec, node, obj):
    for wire, field, kind, required, default in spec:
        if kind == T.FIXED:
            continue
        s = node.attrs.get(wire)
        if s is None:
            if required:
                raise CallStanzaError("<%s> without %s" % (node.tag, wire))
            setattr(obj, field, None)
        else:
            setattr(obj, field, read_value(kind, s, wire))


def _body(node, what, address):
    c = node.content
    if not isinstance(c, (bytes, bytearray)):
        raise CallStanzaError("<%s> needs a bytes body" % what)
    if address and len(c) != 6 and len(c) != 18:
        raise CallStanzaError("<%s> address of %d bytes" % (what, len(c)))
    return bytes(c)


def _envelope(obj, action_node):
    attrs = {}
    _put_attrs(T.ENVELOPE, obj, attrs)
    return Node("call", attrs, [action_node])

