# Stanzas of the switchboard link (docs/protocol.md section 8, Portier extension): hello/ready/
# failure, ping/pong, the prekey iqs and pairing. Builders return Nodes; parse(node) returns a
# LinkStanza with `.kind` and the fields of that kind, or raises LinkError for anything
# malformed. Call stanzas (<call>, <ack>, <receipt>) are portier.signaling.stanzas' business.
#
# The prekey iqs and pairing (8.5) live in linkpair.py, with their builders (callers import
# them from there), loaded on first use (parse() of an <iq> or <pair> here loads it too): a door
# needs them only for a pairing, so through a call the link holds just this module, and the app drops
# linkpair at quiet moments with the Signal code (portier.appmem).
from portier.wire._node import Node, StanzaError

from . import _callkinds as T
from ._callvalues import read_value

PAIR_PLAINTEXT = b"portier-pair-1"
PROTOCOL_VERSION = "1"
_FAILURE_REASONS = ("auth", "version", "unknown")
_CALL_TAGS = ("call", "ack", "receipt")
_PAIR_TAGS = ("iq", "pair", "revoke")  # parsed by linkpair


class LinkError(StanzaError):
    pass


class LinkStanza:
    def __init__(self, kind, **fields):
        self.kind = kind
        for k in fields:
            setattr(self, k, fields[k])

    def __eq__(self, other):
        return isinstance(other, LinkStanza) and self.__dict__ == other.__dict__

    def __repr__(self):
        d = self.__dict__
        return "LinkStanza(%s)" % ", ".join("%s=%r" % (k, d[k]) for k in sorted(d))


def is_call_stanza(node):
    return node.tag in _CALL_TAGS


# ---- builders ----


def hello(jid):
    return Node("hello", {"jid": _jid(jid), "v": PROTOCOL_VERSION})


def ready(jid, t):
    return Node("ready", {"jid": _jid(jid), "t": _dec(t)})


def failure(reason):
    if reason not in _FAILURE_REASONS:
        raise LinkError("failure reason %r" % (reason,))
    return Node("failure", {"reason": reason})


def ping(stanza_id):
    return Node("ping", {"id": _id(stanza_id)})


def pong(stanza_id):
    return Node("pong", {"id": _id(stanza_id)})


# ---- parser ----


def parse(node):
    """A decoded link stanza -> LinkStanza; LinkError if it is malformed or not one."""
    try:
        tag = node.tag
        if tag in _PAIR_TAGS:
            from . import linkpair

            return linkpair.PARSERS[tag](node)
        return _PARSERS[tag](node)
    except KeyError:
        raise LinkError("<%s> is not a link stanza" % node.tag)
    except StanzaError as e:  # a value check of the call layer: same meaning here
        if isinstance(e, LinkError):
            raise
        raise LinkError(str(e))


def _parse_hello(n):
    _only(n, ("jid", "v"), True)
    v = _need(n, "v")
    return LinkStanza("hello", jid=_jid(_need(n, "jid")), v=v)


def _parse_ready(n):
    _only(n, ("jid", "t"), True)
    return LinkStanza("ready", jid=_jid(_need(n, "jid")), t=read_value(T.DEC, _need(n, "t"), "t"))


def _parse_failure(n):
    _only(n, ("reason",), True)
    reason = _need(n, "reason")
    if reason not in _FAILURE_REASONS:
        raise LinkError("failure reason %r" % reason)
    return LinkStanza("failure", reason=reason)


def _parse_ping(n):
    _only(n, ("id",), True)
    return LinkStanza(n.tag, id=_id(_need(n, "id")))


_PARSERS = {
    "hello": _parse_hello,
    "ready": _parse_ready,
    "failure": _parse_failure,
    "ping": _parse_ping,
    "pong": _parse_ping,
}


# ---- checks ----


def _need(node, key):
    v = node.attrs.get(key)
    if v is None:
        raise LinkError("<%s> without %s" % (node.tag, key))
    return v


def _only(node, allowed, empty):
    """The node has no attribute outside allowed and, when empty, no content."""
    for k in node.attrs:
        if k not in allowed:
            raise LinkError("<%s> has unknown attribute %s" % (node.tag, k))
    if empty and node.content is not None:
        raise LinkError("<%s> has content" % node.tag)


def _jid(s):
    if not isinstance(s, str):
        raise LinkError("JID must be text")
    return read_value(T.JID, s, "jid")


def _id(s):
    if not isinstance(s, str):
        raise LinkError("id must be text")
    return read_value(T.ID, s, "id")


def _dec(v):
    if not isinstance(v, int) or v < 0 or v > 0xFFFFFFFF:
        raise LinkError("not a u32: %r" % (v,))
    return str(v)
