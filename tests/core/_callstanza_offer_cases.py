# Offers: several devices, options, and the strict child order.
from coretest import assert_raises
from _stanza_samples import CID, ME, PEER, SID

from portier.signaling import stanzas as S
from portier.wire.stanza import Node


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
