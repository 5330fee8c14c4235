# <pair> with the household's <auth>, and <revoke> (docs/protocol.md 8.5): built, through the
# wire codec and parsed back; wrong sizes, order and results refused with LinkError.
from coretest import assert_raises
from portier.signaling import linkstanzas as ls
from portier.signaling import linkpair as lp
from portier.wire import stanza as wire
from portier.wire._node import Node

AUTH = bytes(range(36))


def _wire(node):
    return ls.parse(wire.decode(wire.encode(node)))


def test_pair_with_auth_round_trip():
    got = _wire(lp.pair("P1", "door:1@home", "pkmsg", b"\x33" * 40, AUTH))
    assert (got.kind, got.auth, got.enc_type, got.ciphertext) == ("pair", AUTH, "pkmsg", b"\x33" * 40)
    assert _wire(lp.pair("P1", "door:1@home", "msg", b"\x33" * 40)).auth is None


def test_revoke_round_trip():
    got = _wire(lp.revoke("R1", "anna:2@home", AUTH))
    assert (got.kind, got.jid, got.blob) == ("revoke", "anna:2@home", AUTH)
    res = _wire(lp.revoke_result("R1", "anna:2@home", True))
    assert (res.kind, res.jid, res.ok) == ("revoke_result", "anna:2@home", True)
    assert _wire(lp.revoke_result("R1", "anna:2@home", False)).ok is False


def test_bad_pair_and_revoke_refused():
    enc = Node("enc", {"v": "2", "type": "pkmsg"}, b"\x33" * 40)
    for kids in ([Node("auth", None, AUTH[:-1]), enc], [enc, Node("auth", None, AUTH)],
                 [Node("auth", None, AUTH), Node("auth", None, AUTH), enc],
                 [Node("x", None, AUTH), enc], [Node("auth", {"a": "1"}, AUTH), enc]):
        assert_raises(ls.LinkError, ls.parse, Node("pair", {"id": "P", "to": "door:1@home"}, kids))
    for node in (Node("revoke", {"id": "R", "jid": "anna:2@home"}, AUTH + b"x"),
                 Node("revoke", {"id": "R", "jid": "anna"}, AUTH),
                 Node("revoke", {"id": "R", "jid": "anna:2@home", "result": "maybe"}, None),
                 Node("revoke", {"id": "R", "jid": "anna:2@home", "result": "ok"}, AUTH)):
        assert_raises(ls.LinkError, ls.parse, node)
    assert_raises(ValueError, lp.pair, "P", "door:1@home", "pkmsg", b"\x33", AUTH[:10])
