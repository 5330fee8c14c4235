# Call stanza builders and parsers against the model's shapes (protocol-model section 3): the
# expected trees are written out by hand here, then every action goes builder -> Node ->
# bytes -> Node -> parser and must come back equal, in both runtimes.
from coretest import assert_raises

from portier.signaling import stanzas as S
from portier.signaling.stanzas import Stanza as St
from portier.wire.stanza import Node, decode, encode

CID = "5D1C0A9B8E7F6A5B4C3D2E1F00112233"
ME = "4915112345678:0@portier"
PEER = "4915187654321@portier"
SID = "8F3A0000000000000000000000000001"
IPV4 = b"\xc0\x00\x02\x0a\x0d\x96"  # 192.0.2.10:3478


def _relay():
    te = St("te2", address=IPV4, relay_id=1, relay_name="fra1c01", token_id=1, c2r_rtt=12)
    return St("relay", uuid="ZmFrZXV1aWQ", self_pid=1, peer_pid=2, key=b"k" * 24, hbh_key=b"h" * 40,
              endpoints=[te], tokens=[(1, b"t" * 30)], auth_tokens=[(1, b"a" * 30)])


def samples():
    """One Stanza per action (and variants); shared with the size and robustness tests."""
    ids = {"call_id": CID, "call_creator": ME}
    dest = [("4915187654321:%d@portier" % i, S.enc(bytes(range(120)), "pkmsg")) for i in (0, 1, 2)]
    return [
        St("offer", audio=S.PORTIER_AUDIO, destination=dest, to=PEER, stanza_id=SID, **ids),
        St("offer", audio=[("opus", 16000), ("pcmu", 8000)], enc=S.enc(b"x" * 50), relay=_relay(), privacy=b"pp",
           device_identity=b"di", extra={"caller_pn": "4915112345678@s.whatsapp.net"}, frm=PEER, stanza_id=SID,
           t=1700000000, **ids),
        St("ack", stanza_id=SID, to=ME),
        St("ack", stanza_id=SID, frm=PEER, ack_type="offer", relay=_relay()),
        St("ack", stanza_id=SID, frm=PEER, error_code=439),
        St("receipt", stanza_id=SID, to=ME, frm="4915187654321:1@portier", **ids),
        St("preaccept", audio=[("pcmu", 8000)], to=ME, stanza_id=SID, **ids),
        St("accept", audio=[("pcmu", 8000), ("l16", 16000)], to=ME, stanza_id=SID, **ids),
        St("accept", audio=[("pcma", 8000)], te=b"\x01\x02", metadata={"peer_abtest_bucket": "x"},
           capability=b"\x01\x05", rte=b"r", voip_settings=b'{"a":1}', to=ME, stanza_id=SID, **ids),
        St("reject", to=ME, **ids),
        St("reject", reason="busy", count=0, to=ME, stanza_id=SID, **ids),
        St("terminate", reason="timeout", to=PEER, stanza_id=SID, **ids),
        St("terminate", duration=125, audio_duration=120,
           destination=["4915187654321:1@portier", "4915187654321:2@portier"], to=PEER, **ids),
        St("transport", message_type=1, p2p_cand_round=0, te=b"tok", to=PEER, **ids),
        St("transport", message_type=9, to=PEER, **ids),
        St("relaylatency", rtt_ms=45, address=IPV4, relay_name="fra1c01", to=PEER, **ids),
        St("mute_v2", muted=True, to=PEER, **ids),
        St("heartbeat", stanza_id=SID, **ids),
    ]


def test_every_action_round_trips_through_bytes():
    seen = set()
    for obj in samples():
        back = S.parse(decode(encode(obj.to_node())))
        assert back == obj, "%r\n!= %r" % (back, obj)
        assert S.build(obj) == obj.to_node()
        seen.add(obj.action)
    for action in ("offer", "ack", "receipt", "preaccept", "accept", "reject", "terminate", "transport",
                   "relaylatency", "mute_v2", "heartbeat"):
        assert action in seen


def test_offer_shape_single_device():
    offer = St("offer", call_id=CID, call_creator=ME, audio=[("pcmu", 8000)], enc=S.enc(b"CT"), to=PEER,
               stanza_id=SID)
    want = Node("call", {"to": PEER, "id": SID}, [Node("offer", {"call-id": CID, "call-creator": ME}, [
        Node("audio", {"enc": "pcmu", "rate": "8000"}),
        Node("net", {"medium": "3"}),
        Node("capability", {"ver": "1"}, b"\x01\x05\xf7\x09\xe0\xbb\x13"),
        Node("enc", {"v": "2", "type": "msg", "count": "0"}, b"CT"),
        Node("encopt", {"keygen": "2"}),
    ])])
    assert offer.to_node() == want
    assert S.parse(want) == offer
    assert S.supported_audio(offer) == [("pcmu", 8000)]


def test_offer_shape_several_devices_and_options():
    node = Node("call", {"from": PEER, "id": SID, "t": "1700000000"}, [Node("offer", {
        "call-id": CID, "call-creator": ME, "joinable": "1"}, [
        Node("privacy", None, b"tc"),
        Node("audio", {"enc": "opus", "rate": "16000"}),
        Node("audio", {"enc": "l16", "rate": "16000"}),
        Node("net", {"medium": "3"}),
        Node("capability", {"ver": "1"}, b"\x01"),
        Node("destination", None, [
            Node("to", {"jid": "1:1@lid"}, [Node("enc", {"v": "2", "type": "pkmsg", "count": "0"}, b"A")]),
            Node("to", {"jid": "1:2@lid"}, [Node("enc", {"v": "2", "type": "msg", "count": "0"}, b"B")]),
        ]),
        Node("encopt", {"keygen": "2"}),
        Node("device-identity", None, b"ID"),
    ])])
    offer = S.parse(node)
    assert offer.action == "offer" and offer.frm == PEER and offer.t == 1700000000
    assert offer.call_id == CID and offer.call_creator == ME and offer.enc is None
    assert offer.destination == [("1:1@lid", S.enc(b"A", "pkmsg")), ("1:2@lid", S.enc(b"B", "msg"))]
    assert offer.audio == [("opus", 16000), ("l16", 16000)]
    assert S.supported_audio(offer) == [("l16", 16000)]
    assert offer.privacy == b"tc" and offer.device_identity == b"ID"
    assert offer.extra == {"joinable": "1"}
    assert offer.to_node() == node


def test_offer_child_order_is_enforced():
    def offer(kids):
        return Node("call", {"from": PEER}, [Node("offer", {"call-id": CID, "call-creator": ME}, kids)])
    audio = Node("audio", {"enc": "pcmu", "rate": "8000"})
    net = Node("net", {"medium": "3"})
    cap = Node("capability", {"ver": "1"}, b"\x01")
    enc = Node("enc", {"v": "2", "type": "msg", "count": "0"}, b"A")
    encopt = Node("encopt", {"keygen": "2"})
    assert S.parse(offer([audio, net, cap, enc, encopt])).enc == S.enc(b"A")
    for kids in ([net, audio, cap, enc, encopt], [audio, cap, net, enc, encopt], [audio, net, cap, encopt, enc],
                 [audio, net, cap, enc], [net, cap, enc, encopt], [audio, net, cap, encopt],
                 [audio, net, cap, enc, encopt, audio], [audio, net, cap, enc, enc, encopt]):
        assert_raises(S.CallStanzaError, S.parse, offer(kids))


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
