# What the call engine holds through a call (memory layout, not flows: test_engine has those):
# the offer only until the switchboard acks it, the relay block and the callee's wrapped key
# only until the media event has carried them to the app. The flows around still work: a late
# duplicate ack is ignored, the call ends normally.
from enginenet import RELAY, FakeKeys, Net, only
from portier.signaling import stanzas as st
from portier.signaling.engine import CallEngine

DOOR = "door:1@home"
PHONE = "anna:1@home"


def _pair():
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phone = CallEngine(PHONE, FakeKeys(PHONE))
    return door, phone, Net([door, phone])


def test_offer_goes_with_the_ack_and_the_set_up_data_with_the_media_event():
    door, phone, net = _pair()
    call_id = door.place_call("home@home", [PHONE], 1000)
    offer = door.current().offer
    assert offer is not None and offer.action == "offer"  # kept for retransmission until acked
    net.pump(1000)
    call = door.current()
    assert call.offer is None and call.relay == RELAY  # acked: the relay waits for the answer
    incoming = phone.current()
    assert incoming.enc is not None and incoming.relay == RELAY
    door.events()
    phone.events()
    # the switchboard's ack again (a duplicate): the call is past offering, nothing happens
    door.handle(st.Stanza("ack", stanza_id=offer.stanza_id, frm="home@home", relay=RELAY), 1500)
    assert door.pending() == [] and door.current() is call
    phone.answer(call_id, 2000)
    net.pump(2000)
    assert only(door.events(), "media").relay == RELAY
    assert only(phone.events(), "media").relay == RELAY
    for engine in (door, phone):
        call = engine.answered_call()
        assert call is not None and call.call_key is not None
        assert call.offer is None and call.relay is None and call.enc is None
    phone.hang_up(call_id, 9000)
    net.pump(9000)
    assert only(door.events(), "ended").outcome == "answered"
    assert door.current() is None and phone.current() is None
