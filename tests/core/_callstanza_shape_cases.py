# Call stanza shapes, part 2: the small actions, heartbeat, ack/receipt/relay and relaylatency,
# against trees written out by hand from the model (protocol-model section 3).
from _stanza_samples import CID, IPV4, ME, PEER, SID

from portier.signaling import stanzas as S
from portier.signaling.stanzas import Stanza as St
from portier.wire.stanza import Node


def test_small_action_shapes():
    ids = {"call-id": CID, "call-creator": ME}
    def st(action, **fields):
        return St(action, call_id=CID, call_creator=ME, to=PEER, **fields)
    cases = (
        (st("reject"), Node("reject", ids)),
        (st("terminate", reason="accepted_elsewhere"),
         Node("terminate", {"call-id": CID, "call-creator": ME, "reason": "accepted_elsewhere"})),
        (st("mute_v2", muted=False), Node("mute_v2", {"call-id": CID, "call-creator": ME, "mute-state": "0"})),
        (st("transport", message_type=9), Node("transport", {
            "call-id": CID, "call-creator": ME, "transport-message-type": "9"}, [Node("net", {"medium": "2"})])),
        (st("transport", message_type=3, p2p_cand_round=1, te=b"T"), Node("transport", {
            "call-id": CID, "call-creator": ME, "transport-message-type": "3", "p2p-cand-round": "1"},
            [Node("te", {"priority": "1"}, b"T"), Node("net", {"medium": "2", "protocol": "0"})])),
        (st("relaylatency", rtt_ms=45, address=IPV4, relay_name="gru1c02"), Node("relaylatency", ids, [
            Node("te", {"latency": "33554477", "relay_name": "gru1c02"}, IPV4)])),
        (st("preaccept", audio=[("pcmu", 8000)]), Node("preaccept", ids, [
            Node("audio", {"enc": "pcmu", "rate": "8000"}), Node("encopt", {"keygen": "2"}),
            Node("capability", {"ver": "1"}, b"\x01\x05\xf7\x09\xe4\xbb\x07")])),
        (st("accept", audio=[("pcmu", 8000)]), Node("accept", ids, [
            Node("audio", {"enc": "pcmu", "rate": "8000"}), Node("net", {"medium": "2"}),
            Node("encopt", {"keygen": "2"})])),
    )
    for obj, action in cases:
        want = Node("call", {"to": PEER}, [action])
        assert obj.to_node() == want, obj.to_node().to_xml()
        assert S.parse(want) == obj


def test_heartbeat_goes_to_the_call_object():
    hb = St("heartbeat", call_id=CID, call_creator=ME, stanza_id=SID)
    assert hb.to == CID + "@call"
    assert hb.to_node() == Node("call", {"to": CID + "@call", "id": SID}, [
        Node("heartbeat", {"call-id": CID, "call-creator": ME})])


def test_ack_receipt_and_relay_block():
    assert St("ack", stanza_id=SID, to=ME).to_node() == Node("ack", {"class": "call", "id": SID, "to": ME})
    receipt = Node("receipt", {"to": ME, "id": SID}, [Node("offer", {"call-id": CID, "call-creator": ME})])
    r = S.parse(receipt)
    assert r.action == "receipt" and r.of == "offer" and r.call_id == CID and r.stanza_id == SID
    assert r.to_node() == receipt
    ack = Node("ack", {"class": "call", "type": "offer", "id": SID, "from": PEER}, [Node("relay", {
        "uuid": "U", "self_pid": "1", "peer_pid": "2"}, [
        Node("key", None, b"K"), Node("hbh_key", None, b"H"), Node("token", {"id": "0"}, b"T"),
        Node("te2", {"relay_id": "3", "relay_name": "fra1c01"}, b"\x00" * 18), Node("te2", None, IPV4)])])
    a = S.parse(ack)
    assert a.action == "ack" and a.ack_type == "offer" and a.relay.uuid == "U"
    assert a.relay.tokens == [(0, b"T")] and a.relay.auth_tokens is None
    assert S.ipv4_endpoint(a.relay).address == IPV4 and a.relay.endpoints[0].relay_name == "fra1c01"
    assert a.relay.endpoints[0].relay_id == 3 and a.relay.endpoints[1].relay_id is None
    assert a.to_node() == ack


def test_relaylatency_encodes_rtt_over_the_base():
    rl = S.parse(St("relaylatency", call_id=CID, call_creator=ME, rtt_ms=0, address=IPV4, to=PEER).to_node())
    assert rl.rtt_ms == 0 and rl.to_node().child("relaylatency").child("te").get("latency") == "33554432"
    # the old parser's mask: a bare rtt without the 0x02000000 base still reads as the rtt
    node = Node("call", {"from": PEER}, [Node("relaylatency", {"call-id": CID, "call-creator": ME}, [
        Node("te", {"latency": "45"}, IPV4)])])
    assert S.parse(node).rtt_ms == 45
