# Stanzas of the switchboard link (docs/protocol.md section 8, Portier extension): hello/ready/
# failure, ping/pong, the prekey iqs and pairing. Builders return Nodes; parse(node) returns a
# LinkStanza with `.kind` and the fields of that kind, or raises LinkError for anything
# malformed. Call stanzas (<call>, <ack>, <receipt>) are portier.signaling.stanzas' business.
from micropython import const

from portier.wire._node import Node, StanzaError

from . import _callkinds as T
from ._callvalues import read_value

PAIR_PLAINTEXT = b"portier-pair-1"
PROTOCOL_VERSION = "1"
_KEY_LEN = const(33)  # 0x05 || X25519 public key
_MAX_KEYS = const(100)  # one-time prekeys in one upload (and kept per device)
_MAX_BUNDLE = const(512)
_MAX_CIPHERTEXT = const(2048)
_FAILURE_REASONS = ("auth", "version", "unknown")
_CALL_TAGS = ("call", "ack", "receipt")


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


def bundle_get(stanza_id, jid):
    return _iq(stanza_id, "get", [Node("bundle", {"jid": _jid(jid)})])


def bundle_result(stanza_id, jid, bundle):
    _bytes(bundle, 1, _MAX_BUNDLE, "bundle")
    return _iq(stanza_id, "result", [Node("bundle", {"jid": _jid(jid)}, bytes(bundle))])


def iq_error(stanza_id, code):
    return _iq(stanza_id, "error", [Node("error", {"code": _dec(code)})])


def prekeys_set(stanza_id, keys):
    if not keys or len(keys) > _MAX_KEYS:
        raise LinkError("%d prekeys" % len(keys))
    kids = []
    for key_id, public in keys:
        _bytes(public, _KEY_LEN, _KEY_LEN, "prekey")
        kids.append(Node("key", {"id": _dec(key_id)}, bytes(public)))
    return _iq(stanza_id, "set", [Node("prekeys", None, kids)])


def iq_result(stanza_id):
    return _iq(stanza_id, "result", None)


def pair(stanza_id, to, enc_type, ciphertext):
    _bytes(ciphertext, 1, _MAX_CIPHERTEXT, "enc")
    enc = Node("enc", {"v": "2", "type": read_value(T.ENCTYPE, enc_type, "type")}, bytes(ciphertext))
    return Node("pair", {"to": _jid(to), "id": _id(stanza_id)}, [enc])


def pair_result(stanza_id, to, ok):
    return Node("pair", {"to": _jid(to), "id": _id(stanza_id), "result": "ok" if ok else "error"})


def _iq(stanza_id, kind, kids):
    return Node("iq", {"id": _id(stanza_id), "type": kind}, kids)


# ---- parser ----


def parse(node):
    """A decoded link stanza -> LinkStanza; LinkError if it is malformed or not one."""
    try:
        return _PARSERS[node.tag](node)
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


def _parse_iq(n):
    _only(n, ("id", "type"), False)
    sid = _id(_need(n, "id"))
    kind = _need(n, "type")
    kids = n.content
    if kind == "result" and kids is None:
        return LinkStanza("iq_result", id=sid)
    child = _single(n)
    if kind == "get" and child.tag == "bundle":
        _only(child, ("jid",), True)
        return LinkStanza("bundle_get", id=sid, jid=_jid(_need(child, "jid")))
    if kind == "result" and child.tag == "bundle":
        _only(child, ("jid",), False)
        body = _bytes(child.content, 1, _MAX_BUNDLE, "bundle")
        return LinkStanza("bundle_result", id=sid, jid=_jid(_need(child, "jid")), bundle=body)
    if kind == "error" and child.tag == "error":
        _only(child, ("code",), True)
        return LinkStanza("iq_error", id=sid, code=read_value(T.DEC, _need(child, "code"), "code"))
    if kind == "set" and child.tag == "prekeys":
        return LinkStanza("prekeys_set", id=sid, keys=_parse_keys(child))
    raise LinkError("iq type %r with <%s>" % (kind, child.tag))


def _parse_keys(node):
    kids = node.content
    if not isinstance(kids, list) or not kids or len(kids) > _MAX_KEYS:
        raise LinkError("prekeys needs 1..%d keys" % _MAX_KEYS)
    keys = []
    for k in kids:
        if k.tag != "key":
            raise LinkError("<prekeys> holds <key> only")
        _only(k, ("id",), False)
        key_id = read_value(T.DEC, _need(k, "id"), "key id")
        keys.append((key_id, _bytes(k.content, _KEY_LEN, _KEY_LEN, "prekey")))
    return keys


def _parse_pair(n):
    if n.content is None:
        _only(n, ("to", "from", "id", "result"), True)
        result = _need(n, "result")
        if result != "ok" and result != "error":
            raise LinkError("pair result %r" % result)
        return LinkStanza("pair_result", id=_id(_need(n, "id")), to=_opt_jid(n, "to"),
                          frm=_opt_jid(n, "from"), ok=result == "ok")
    _only(n, ("to", "from", "id"), False)
    enc = _single(n)
    if enc.tag != "enc":
        raise LinkError("<pair> holds one <enc>")
    _only(enc, ("v", "type", "count"), False)
    return LinkStanza("pair", id=_id(_need(n, "id")), to=_opt_jid(n, "to"), frm=_opt_jid(n, "from"),
                      enc_type=read_value(T.ENCTYPE, _need(enc, "type"), "type"),
                      ciphertext=_bytes(enc.content, 1, _MAX_CIPHERTEXT, "enc"))


_PARSERS = {
    "hello": _parse_hello,
    "ready": _parse_ready,
    "failure": _parse_failure,
    "ping": _parse_ping,
    "pong": _parse_ping,
    "iq": _parse_iq,
    "pair": _parse_pair,
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


def _single(node):
    kids = node.content
    if not isinstance(kids, list) or len(kids) != 1:
        raise LinkError("<%s> needs exactly one child" % node.tag)
    return kids[0]


def _bytes(v, lo, hi, what):
    if not isinstance(v, (bytes, bytearray)) or not lo <= len(v) <= hi:
        raise LinkError("%s of %s bytes" % (what, len(v) if isinstance(v, (bytes, bytearray)) else "no"))
    return bytes(v)


def _jid(s):
    if not isinstance(s, str):
        raise LinkError("JID must be text")
    return read_value(T.JID, s, "jid")


def _opt_jid(node, key):
    v = node.attrs.get(key)
    return None if v is None else _jid(v)


def _id(s):
    if not isinstance(s, str):
        raise LinkError("id must be text")
    return read_value(T.ID, s, "id")


def _dec(v):
    if not isinstance(v, int) or v < 0 or v > 0xFFFFFFFF:
        raise LinkError("not a u32: %r" % (v,))
    return str(v)
