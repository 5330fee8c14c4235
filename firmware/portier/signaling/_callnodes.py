# Table-driven building of one stanza element, children in the model's order.
from portier.wire._node import Node  # not .stanza: the call layer needs no codec

from . import _callkinds as T
from ._calltables import ADDRESS_FIELD, IDS, table
from ._callcodec import CallStanzaError, _put_attrs, read_value


def build_node(action, obj):
    attrs_spec, children, keep_extra, body_field = table(action)
    attrs = dict(obj.extra) if keep_extra else {}
    _put_attrs(attrs_spec, obj, attrs)
    if body_field is not None:
        body = getattr(obj, body_field)
        if body is None:
            raise CallStanzaError("%s without %s" % (action, body_field))
        return Node(action, attrs, _check_body(bytes(body), body_field))
    kids = []
    for i in range(0, len(children), 5):
        _build_child(children, i, obj, kids)
    return Node(action, attrs, kids or None)


def _check_body(body, field):
    if field == ADDRESS_FIELD and len(body) != 6 and len(body) != 18:
        raise CallStanzaError("address of %d bytes" % len(body))
    return body


def _dest(pairs):
    return Node("destination", None, pairs)


def _build_child(children, i, obj, kids):
    tag = children[i]
    kind = children[i + 1] & 0x1F
    mult = children[i + 1] >> 5
    field = children[i + 2]
    spec = children[i + 4]
    v = getattr(obj, field) if field is not None else None
    if kind == T.BODY:
        if v is None:
            if mult == T.ONE:
                raise CallStanzaError("missing %s" % field)
            return
        attrs = {}
        _put_attrs(spec, obj, attrs)
        kids.append(Node(tag, attrs, _check_body(bytes(v), field)))
    elif kind == T.ATTRS:
        if mult == T.OPT and not any(spec[j + 2] & 0x0F != T.FIXED and getattr(obj, spec[j + 1]) is not None
                                     for j in range(0, len(spec), 4)):
            return
        attrs = {}
        _put_attrs(spec, obj, attrs)
        kids.append(Node(tag, attrs))
    elif kind == T.AUDIO:
        if not v:
            raise CallStanzaError("no audio")
        for codec, rate in v:
            kids.append(Node("audio", {"enc": read_value(T.STR, codec, "enc"), "rate": str(int(rate))}))
    elif kind == T.ENCS:
        if (obj.enc is None) == (not obj.destination):
            raise CallStanzaError("one enc or a destination")
        if obj.enc is not None:
            kids.append(obj.enc.to_node())
        else:
            kids.append(_dest([Node("to", {"jid": read_value(T.JID, j, "jid")}, [e.to_node()])
                               for j, e in obj.destination]))
    elif kind == T.JIDS:
        if v:
            kids.append(_dest([Node("to", {"jid": read_value(T.JID, j, "jid")}) for j in v]))
    elif kind == T.NEST:
        if v is None:
            if mult != T.OPT:
                raise CallStanzaError("missing %s" % field)
            return
        for item in (v if mult == T.MANY else (v,)):
            kids.append(item.to_node())
        if mult == T.MANY and not v:
            raise CallStanzaError("missing %s" % field)
    elif kind == T.ITEMS:
        for ident, body in v or ():
            kids.append(Node(tag, {"id": str(int(ident))}, bytes(body)))
    elif kind == T.DICT:
        if v is not None:
            kids.append(Node(tag, dict(v)))
    elif kind == T.RECEIPT_OF:
        if obj.of != "offer" and obj.of != "accept":
            raise CallStanzaError("receipt of %r" % obj.of)
        ids = {}
        _put_attrs(IDS, obj, ids)
        kids.append(Node(obj.of, ids))
