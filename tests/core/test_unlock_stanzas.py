# The <unlock> and <unlock_result> call stanzas (docs/protocol.md section 10.1) through the real
# wire codec: round trips, and the shapes the parser refuses.
from coretest import assert_raises
from portier.signaling import stanzas as st
from portier.wire import stanza as wire

DOOR = "door:1@home"
PHONE = "anna:2@home"
_CID = "5D1C0A9B8E7F6A5B4C3D2E1F00112233"


def test_unlock_stanzas_round_trip_and_refuse_bad_shapes():
    enc = st.enc(b"\x33" * 40, "msg")
    s = st.Stanza("unlock", call_id=_CID, call_creator=DOOR, enc=enc, to=DOOR, stanza_id="S1")
    assert st.parse(wire.decode(wire.encode(s.to_node()))) == s
    r = st.Stanza("unlock_result", call_id=_CID, call_creator=DOOR, result="locked_out",
                  reason="locked_out", retry_after_s=60, to=PHONE, stanza_id="S2")
    assert st.parse(wire.decode(wire.encode(r.to_node()))) == r
    assert_raises(st.CallStanzaError, st.Stanza("unlock", call_id=_CID, call_creator=DOOR, to=DOOR).to_node)
    assert_raises(st.CallStanzaError, st.Stanza("unlock_result", call_id=_CID, call_creator=DOOR,
                                                result="Opened!", to=PHONE).to_node)
    good = s.to_node()
    action = good.content[0]
    Node = wire.Node
    for kids in ([], [action.content[0], action.content[0]], [Node("destination", None, [])],
                 [Node("enc", {"v": "2", "type": "msg"}, [])],  # no bytes body
                 [Node("enc", {"v": "2", "type": "sig"}, b"x")]):
        bad = Node("call", dict(good.attrs), [Node("unlock", dict(action.attrs), kids or None)])
        assert_raises(st.CallStanzaError, st.parse, bad)
    bad = Node("call", dict(good.attrs), [Node("unlock", {"call-id": _CID}, [action.content[0]])])
    assert_raises(st.CallStanzaError, st.parse, bad)  # no call-creator
