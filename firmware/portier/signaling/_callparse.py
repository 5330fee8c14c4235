# Table-driven parsing of one stanza element: required attributes, value syntax, child order.
from . import _callkinds as T
from ._calltables import ADDRESS_FIELD, IDS, table
from ._callcodec import CallStanzaError, Stanza, _body, _get_attrs, read_value


def parse_node(action, node):
    attrs_spec, children, keep_extra, body_field = table(action)
    obj = Stanza(action)
    _get_attrs(attrs_spec, node, obj)
    if keep_extra:
        for k in node.attrs:
            if not _named(attrs_spec, k):
                obj.extra[k] = node.attrs[k]
    if body_field is not None:
        setattr(obj, body_field, _body(node, action, body_field == ADDRESS_FIELD))
        return obj
    kids = node.content
    if kids is None:
        kids = []
    elif not isinstance(kids, list):
        raise CallStanzaError("<%s> holds elements, not bytes" % action)
    i = 0
    for j in range(0, len(children), 5):
        i = _parse_child(children, j, kids, i, obj)
    if i != len(kids):
        raise CallStanzaError("<%s> has <%s> out of order" % (action, kids[i].tag))
    return obj


def _parse_child(children, j, kids, i, obj):
    tag = children[j]
    kind = children[j + 1] & 0x1F
    mult = children[j + 1] >> 5
    field = children[j + 2]
    arg = children[j + 3]
    spec = children[j + 4]
    n = len(kids)
    if kind == T.ENCS:
        tag = "enc" if i < n and kids[i].tag == "enc" else "destination"
    elif kind == T.RECEIPT_OF:
        tag = kids[i].tag if i < n else "offer"
    here = i < n and kids[i].tag == tag
    if not here:
        if mult == T.ONE or mult == T.MANY:
            raise CallStanzaError("missing <%s>" % tag)
        _get_attrs(spec, None, obj)  # an absent optional element: its fields are absent too
        return i
    kid = kids[i]
    if kind == T.BODY:
        _get_attrs(spec, kid, obj)
        setattr(obj, field, _body(kid, tag, field == ADDRESS_FIELD))
    elif kind == T.ATTRS:
        _get_attrs(spec, kid, obj)
    elif kind == T.AUDIO or kind == T.NEST or kind == T.ITEMS:
        out = []
        while i < n and kids[i].tag == tag:
            out.append(_item(kind, kids[i], arg))
            i += 1
            if mult == T.OPT or mult == T.ONE:
                break
        setattr(obj, field, out[0] if mult == T.OPT or mult == T.ONE else out)
        return i
    elif kind == T.ENCS:
        if tag == "enc":
            obj.enc = parse_node("enc", kid)
        else:
            obj.destination = [(read_value(T.JID, to.get("jid", ""), "jid"), _one_enc(to)) for to in _tos(kid)]
            if not obj.destination:
                raise CallStanzaError("empty destination")
    elif kind == T.JIDS:
        setattr(obj, field, [read_value(T.JID, to.get("jid", ""), "jid") for to in _tos(kid)] or None)
    elif kind == T.DICT:
        setattr(obj, field, dict(kid.attrs))
    elif kind == T.RECEIPT_OF:
        if tag != "offer" and tag != "accept" or kid.content is not None:
            raise CallStanzaError("<receipt> holds one empty <offer> or <accept>")
        obj.of = tag
        _get_attrs(IDS, kid, obj)
    return i + 1


def _item(kind, kid, arg):
    if kind == T.AUDIO:
        if kid.content is not None:
            raise CallStanzaError("<audio> has no content")
        return (read_value(T.STR, kid.get("enc", ""), "enc"), read_value(T.DEC, kid.get("rate", ""), "rate"))
    if kind == T.ITEMS:
        return (read_value(T.DEC, kid.get("id", ""), "id"), _body(kid, kid.tag, False))
    return parse_node(arg, kid)


def _tos(dest):
    kids = dest.content
    if kids is None:
        return []
    if not isinstance(kids, list):
        raise CallStanzaError("<destination> holds <to> elements")
    for to in kids:
        if to.tag != "to":
            raise CallStanzaError("<destination> holds <to> only")
    return kids


def _one_enc(to):
    kids = to.content
    if not isinstance(kids, list) or len(kids) != 1 or kids[0].tag != "enc":
        raise CallStanzaError("<to> in an offer holds one <enc>")
    return parse_node("enc", kids[0])


def _named(spec, wire):
    for i in range(0, len(spec), 4):
        if spec[i] == wire:
            return True
    return False
