# Call stanzas that must be refused, and the unknown-action result.
from coretest import assert_raises
from _stanza_samples import CID, ME, PEER, SID

from portier.signaling import stanzas as S
from portier.signaling.stanzas import Stanza as St
from portier.wire.stanza import Node


def test_malformed_call_stanzas_raise_call_stanza_error():
    ids = {"call-id": CID, "call-creator": ME}

    def call(*actions, **env):
        return Node("call", env or {"from": PEER}, list(actions))
    bad = (
        Node("presence", {"from": PEER}),  # not a call stanza
        Node("call", {"from": PEER}),  # no action
        call(Node("reject", ids), Node("reject", ids)),  # two actions
        Node("call", {}, [Node("reject", ids)]),  # neither to nor from
        call(Node("reject", {"call-creator": ME})),  # no call-id
        call(Node("reject", {"call-id": CID})),  # no call-creator
        call(Node("reject", {"call-id": CID, "call-creator": "no-at-sign"})),
        call(Node("reject", {"call-id": "bad id!", "call-creator": ME})),
        call(Node("reject", ids, [Node("x")])),  # reject has no children
        call(Node("reject", {"call-id": CID, "call-creator": ME, "reason": ""})),  # never empty
        call(Node("reject", {"call-id": CID, "call-creator": ME, "reason": "Busy"})),
        call(Node("terminate", {"call-id": CID, "call-creator": ME, "duration": "012"})),
        call(Node("terminate", {"call-id": CID, "call-creator": ME, "duration": "4294967296"})),
        call(Node("terminate", {"call-id": CID, "call-creator": ME, "duration": "\u0663"})),  # Arabic-Indic 3
        call(Node("terminate", {"call-id": CID, "call-creator": ME, "duration": "+3"})),
        call(Node("mute_v2", {"call-id": CID, "call-creator": ME, "mute-state": "2"})),
        call(Node("relaylatency", ids, [Node("te", {"latency": "45"}, b"\x01\x02")])),  # 2-byte address
        call(Node("transport", ids)),  # no <net>
        Node("call", {"from": PEER, "t": "-1"}, [Node("reject", ids)]),
        Node("ack", {"id": SID}),  # no class
        Node("receipt", {"id": SID}, [Node("offer", ids), Node("offer", ids)]),
    )
    for node in bad:
        assert_raises(S.CallStanzaError, S.parse, node)
    assert_raises(S.CallStanzaError, St, "terminte", call_id=CID)
    assert_raises(S.CallStanzaError, St, "reject", call_id=CID, reson="busy")
    assert_raises(S.CallStanzaError, St("reject", call_id=CID).to_node)  # no call-creator
    assert_raises(S.CallStanzaError, St("terminate", call_id=CID, call_creator=ME, duration=-1).to_node)


def test_unknown_action_is_a_result_not_an_error():
    node = Node("call", {"from": PEER, "id": SID, "t": "5"}, [Node("enc_rekey", {"call-id": CID, "call-creator": ME}, [
        Node("enc", {"type": "msg"}, b"x")])])
    u = S.parse(node)
    assert u.action == "unknown" and u.tag == "enc_rekey" and u.call_id == CID and u.stanza_id == SID
    assert u.to_node() == node
