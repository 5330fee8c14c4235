# The prekey iqs and pairing stanzas of the switchboard link (docs/protocol.md 8.5), split from
# linkstanzas.py (which parses them through PARSERS here and offers the builders as its own
# attributes) so that a door holds this code only around a pairing: the app drops it at quiet
# moments (portier.appmem). Same LinkStanza kinds and LinkError as linkstanzas.
from micropython import const

from portier.wire._node import Node

from . import _callkinds as T
from ._callvalues import read_value
from .linkstanzas import LinkError, LinkStanza, _dec, _id, _jid, _need, _only

_KEY_LEN = const(33)  # 0x05 || X25519 public key
_MAX_KEYS = const(100)  # one-time prekeys in one upload (and kept per device)
_MAX_BUNDLE = const(512)
_MAX_CIPHERTEXT = const(2048)
_AUTH_LEN = const(36)  # portier.pairauth.AUTH_LEN: serial || HMAC-SHA256 tag


# ---- builders ----


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


def pair(stanza_id, to, enc_type, ciphertext, auth=None):
    """auth: the household's authorisation (36 bytes), None only to test a door's refusal."""
    _bytes(ciphertext, 1, _MAX_CIPHERTEXT, "enc")
    enc = Node("enc", {"v": "2", "type": read_value(T.ENCTYPE, enc_type, "type")}, bytes(ciphertext))
    kids = [enc]
    if auth is not None:
        kids.insert(0, Node("auth", None, _bytes(auth, _AUTH_LEN, _AUTH_LEN, "auth")))
    return Node("pair", {"to": _jid(to), "id": _id(stanza_id)}, kids)


def pair_result(stanza_id, to, ok):
    return Node("pair", {"to": _jid(to), "id": _id(stanza_id), "result": "ok" if ok else "error"})


def revoke(stanza_id, jid, blob):
    """Switchboard -> door: the household's revocation of device `jid` (serial || tag)."""
    return Node("revoke", {"id": _id(stanza_id), "jid": _jid(jid)},
                _bytes(blob, _AUTH_LEN, _AUTH_LEN, "revocation"))


def revoke_result(stanza_id, jid, ok):
    return Node("revoke", {"id": _id(stanza_id), "jid": _jid(jid), "result": "ok" if ok else "error"})


def _iq(stanza_id, kind, kids):
    return Node("iq", {"id": _id(stanza_id), "type": kind}, kids)


# ---- parser ----


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
    kids = n.content
    if not isinstance(kids, list) or not 1 <= len(kids) <= 2:
        raise LinkError("<pair> holds [<auth>] <enc>")
    auth = None
    if len(kids) == 2:
        if kids[0].tag != "auth":
            raise LinkError("<pair> holds [<auth>] <enc>")
        _only(kids[0], (), False)
        auth = _bytes(kids[0].content, _AUTH_LEN, _AUTH_LEN, "auth")
    enc = kids[-1]
    if enc.tag != "enc":
        raise LinkError("<pair> holds one <enc>")
    _only(enc, ("v", "type", "count"), False)
    return LinkStanza("pair", id=_id(_need(n, "id")), to=_opt_jid(n, "to"), frm=_opt_jid(n, "from"),
                      enc_type=read_value(T.ENCTYPE, _need(enc, "type"), "type"),
                      ciphertext=_bytes(enc.content, 1, _MAX_CIPHERTEXT, "enc"), auth=auth)


def _parse_revoke(n):
    _only(n, ("id", "jid", "result", "from", "to"), False)
    sid, jid = _id(_need(n, "id")), _jid(_need(n, "jid"))
    result = n.attrs.get("result")
    if result is None:
        return LinkStanza("revoke", id=sid, jid=jid,
                          blob=_bytes(n.content, _AUTH_LEN, _AUTH_LEN, "revocation"))
    if (result != "ok" and result != "error") or n.content is not None:
        raise LinkError("revoke result %r" % result)
    return LinkStanza("revoke_result", id=sid, jid=jid, ok=result == "ok")


PARSERS = {"iq": _parse_iq, "pair": _parse_pair, "revoke": _parse_revoke}


# ---- checks ----


def _single(node):
    kids = node.content
    if not isinstance(kids, list) or len(kids) != 1:
        raise LinkError("<%s> needs exactly one child" % node.tag)
    return kids[0]


def _bytes(v, lo, hi, what):
    if not isinstance(v, (bytes, bytearray)) or not lo <= len(v) <= hi:
        raise LinkError("%s of %s bytes" % (what, len(v) if isinstance(v, (bytes, bytearray)) else "no"))
    return bytes(v)


def _opt_jid(node, key):
    v = node.attrs.get(key)
    return None if v is None else _jid(v)
