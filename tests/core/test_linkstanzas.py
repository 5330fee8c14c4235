# Link stanzas (docs/protocol.md section 8): every builder round-trips through the wire codec,
# and malformed ones raise LinkError.
from coretest import assert_raises
from portier.signaling import linkstanzas as ls
from portier.signaling import linkpair as lp
from portier.signaling.linkstanzas import LinkError
from portier.wire.stanza import Node, decode, encode

KEY = b"\x05" + bytes(range(32))


def _rt(node):
    return ls.parse(decode(encode(node)))


def test_every_builder_round_trips():
    cases = [
        (ls.hello("door:1@home"), "hello", {"jid": "door:1@home", "v": "1"}),
        (ls.ready("door:1@home", 1800000000), "ready", {"jid": "door:1@home", "t": 1800000000}),
        (ls.failure("auth"), "failure", {"reason": "auth"}),
        (ls.ping("P1"), "ping", {"id": "P1"}),
        (ls.pong("P1"), "pong", {"id": "P1"}),
        (lp.bundle_get("Q1", "door:1@home"), "bundle_get", {"id": "Q1", "jid": "door:1@home"}),
        (lp.bundle_result("Q1", "door:1@home", b"\x08\x01" * 40), "bundle_result",
         {"id": "Q1", "jid": "door:1@home", "bundle": b"\x08\x01" * 40}),
        (lp.iq_error("Q1", 404), "iq_error", {"id": "Q1", "code": 404}),
        (lp.prekeys_set("Q2", [(7, KEY), (8, KEY)]), "prekeys_set", {"id": "Q2", "keys": [(7, KEY), (8, KEY)]}),
        (lp.iq_result("Q2"), "iq_result", {"id": "Q2"}),
        (lp.pair("R1", "door:1@home", "pkmsg", b"\x33" * 90), "pair",
         {"id": "R1", "to": "door:1@home", "frm": None, "enc_type": "pkmsg", "ciphertext": b"\x33" * 90}),
        (lp.pair_result("R1", "anna:1@home", False), "pair_result",
         {"id": "R1", "to": "anna:1@home", "frm": None, "ok": False}),
    ]
    for node, kind, fields in cases:
        got = _rt(node)
        assert got.kind == kind, (kind, got)
        for k in fields:
            assert getattr(got, k) == fields[k], (kind, k, getattr(got, k))


def test_stamped_from_is_read():
    node = lp.pair("R1", "door:1@home", "pkmsg", b"\x01" * 40)
    node.attrs["from"] = "anna:1@home"
    assert _rt(node).frm == "anna:1@home"


def test_call_stanzas_are_told_apart():
    assert ls.is_call_stanza(Node("call", {"to": "a@b"}, []))
    assert ls.is_call_stanza(Node("ack", {"id": "X", "class": "call"}))
    assert not ls.is_call_stanza(ls.ping("X"))


def test_malformed_link_stanzas_are_refused():
    bad = [
        Node("hello", {"jid": "no-at-sign", "v": "1"}),
        Node("hello", {"v": "1"}),
        Node("hello", {"jid": "a:1@b", "v": "1", "extra": "x"}),
        Node("ready", {"jid": "a:1@b", "t": "-5"}),
        Node("ready", {"jid": "a:1@b", "t": "01"}),
        Node("failure", {"reason": "bored"}),
        Node("ping", {"id": "has space"}),
        Node("ping", {"id": "X"}, b"body"),
        Node("iq", {"id": "X", "type": "get"}),
        Node("iq", {"id": "X", "type": "get"}, [Node("bundle", {"jid": "a:1@b"}), Node("x")]),
        Node("iq", {"id": "X", "type": "teleport"}, [Node("bundle", {"jid": "a:1@b"})]),
        Node("iq", {"id": "X", "type": "result"}, [Node("bundle", {"jid": "a:1@b"}, b"")]),
        Node("iq", {"id": "X", "type": "set"}, [Node("prekeys", None, [Node("key", {"id": "1"}, b"\x05" * 32)])]),
        Node("iq", {"id": "X", "type": "set"}, [Node("prekeys", None, [])]),
        Node("pair", {"to": "a:1@b", "id": "X"}, [Node("enc", {"v": "2", "type": "signal"}, b"x")]),
        Node("pair", {"to": "a:1@b", "id": "X"}, [Node("nope")]),
        Node("pair", {"to": "a:1@b", "id": "X", "result": "maybe"}),
        Node("message", {}),
    ]
    for node in bad:
        assert_raises(LinkError, ls.parse, node)
    assert_raises(LinkError, lp.prekeys_set, "X", [])
    assert_raises(LinkError, lp.prekeys_set, "X", [(1, b"short")])
    assert_raises(LinkError, ls.failure, "bored")
    assert_raises(LinkError, ls.ready, "a:1@b", -1)
    assert isinstance(LinkError("x"), ValueError)


def test_pairing_half_loads_on_first_use_and_comes_back_after_a_drop():
    # The door's link path (hello, ready, ping/pong, call stanzas) never loads linkpair; parsing
    # a <pair> or an <iq> does, and after the app drops it (appmem) it loads afresh, whole. Its
    # builders live there only (no module attribute here hides where they come from).
    import sys

    from portier import appmem

    appmem.forget_modules(["portier.signaling.linkpair"])
    for node in (ls.ping("P1"), ls.ready("door:1@home", 5), ls.failure("auth")):
        _rt(node)
    assert not ls.is_call_stanza(ls.pong("P1"))
    assert "portier.signaling.linkpair" not in sys.modules
    assert_raises(LinkError, ls.parse, Node("message", {}))
    assert "portier.signaling.linkpair" not in sys.modules
    got = _rt(lp.pair_result("R1", "anna:1@home", True))
    assert got.kind == "pair_result" and got.ok
    assert "portier.signaling.linkpair" in sys.modules
    assert "portier.signaling.linkpair" in appmem.transient_e2e_modules()
    assert appmem.forget_modules(appmem.transient_e2e_modules()) >= 1
    assert "portier.signaling.linkpair" not in sys.modules
    got = _rt(Node("iq", {"id": "Q9", "type": "result"}))  # parse() alone loads it again
    assert got.kind == "iq_result" and got.id == "Q9"
    assert _rt(lp.pair("R2", "door:1@home", "msg", b"\x01" * 9)).ciphertext == b"\x01" * 9
    assert not hasattr(ls, "pair") and not hasattr(ls, "bundle_get")  # linkpair's, not here
    assert not hasattr(ls, "_parse_pair")
