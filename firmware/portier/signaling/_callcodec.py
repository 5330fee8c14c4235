# The generic engine behind portier.signaling.stanzas: builds a Node from a Stanza and parses a
# Node back, driven by the tables in _calltables.py (and _setuptables.py). Parsing checks required attributes, value
# syntax and child order, and raises CallStanzaError (a StanzaError) for anything else.
from portier.wire._node import Node  # not .stanza: the call layer needs no codec

from . import _callkinds as T
from ._calltables import CALL_ACTIONS, ENVELOPE, table
from ._callvalues import CallStanzaError, _get_attrs, _put_attrs, read_value  # noqa: F401


class Stanza:
    """One call stanza: `.action` plus the fields its table names (None when absent)."""

    def __init__(self, action, **fields):
        spec = table(action)
        if spec is None and action != "unknown":
            raise CallStanzaError("no stanza %r" % (action,))
        self.action = action
        if action in CALL_ACTIONS or action == "unknown":
            _attr_defaults(self, ENVELOPE)
        if spec is not None:
            _defaults(self, spec)
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
        return _envelope(self, node) if self.action in CALL_ACTIONS else node


def _defaults(obj, spec):
    attrs, children, keep_extra, body_field = spec
    _attr_defaults(obj, attrs)
    if keep_extra:
        obj.extra = {}
    if body_field:
        setattr(obj, body_field, None)
    for i in range(0, len(children), 5):
        _attr_defaults(obj, children[i + 4])
        kind = children[i + 1] & 0x1F
        field = children[i + 2]
        if kind == T.ENCS:
            obj.enc = None
            obj.destination = None
        elif kind == T.RECEIPT_OF:
            obj.of = "offer"
            obj.call_id = None
            obj.call_creator = None
        elif field is not None:
            setattr(obj, field, children[i + 3] if kind == T.BODY else None)


def _attr_defaults(obj, spec):
    for i in range(0, len(spec), 4):
        if spec[i + 2] & 0x0F != T.FIXED:
            setattr(obj, spec[i + 1], spec[i + 3])


def _body(node, what, address):
    c = node.content
    if not isinstance(c, (bytes, bytearray)):
        raise CallStanzaError("<%s> needs a bytes body" % what)
    if address and len(c) != 6 and len(c) != 18:
        raise CallStanzaError("<%s> address of %d bytes" % (what, len(c)))
    return bytes(c)


def _envelope(obj, action_node):
    attrs = {}
    _put_attrs(ENVELOPE, obj, attrs)
    return Node("call", attrs, [action_node])

