# Call stanza builders and parsers against the model's shapes (protocol-model section 3): the
# expected trees are written out by hand here, then every action goes builder -> Node ->
# bytes -> Node -> parser and must come back equal, in both runtimes.
from _stanza_samples import CID, ME, PEER, SID, samples

from portier.signaling import stanzas as S
from portier.signaling.stanzas import Stanza as St
from portier.wire.stanza import Node, decode, encode

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
