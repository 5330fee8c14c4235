# Races and forgeries in the call engine: crossing accepts, terminates from the wrong device.
from enginenet import FakeKeys, Net, only, ring
from portier.signaling.engine import CallEngine

DOOR = "door:1@home"
PHONES = ["anna:1@home", "ben:1@home"]


def _setup(n):
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phones = [CallEngine(p, FakeKeys(p)) for p in PHONES[:n]]
    return door, phones, Net([door] + phones)


def test_two_devices_answering_at_once_only_the_first_gets_media():
    door, phones, net = _setup(2)
    call_id = ring(door, phones, net)
    for e in [door] + phones:
        e.events()
    # Both answer before either hears of the other: their accepts cross in the network.
    phones[0].answer(call_id, 2000)
    phones[1].answer(call_id, 2001)
    net.pump(2001)
    winner = only(door.events(), "media").peer  # whichever accept the network delivered first
    won, lost = (phones[0], phones[1]) if winner == PHONES[0] else (phones[1], phones[0])
    assert only(won.events(), "media").peer == DOOR
    late = lost.events()
    assert not [e for e in late if e.kind == "media"], late  # never keyed, never binds the relay
    end = only(late, "ended")
    assert (end.outcome, end.reason) == ("answered_elsewhere", "accepted_elsewhere")


def test_a_forged_terminate_from_another_device_is_ignored():
    door, phones, net = _setup(2)
    call_id = ring(door, phones, net)
    phones[0].events()
    from portier.signaling import stanzas as st

    forged = st.Stanza("terminate", call_id=call_id, call_creator=DOOR, reason="timeout",
                       frm=PHONES[1], stanza_id="F1")
    phones[0].handle(forged, 3000)
    assert phones[0].events() == [] and phones[0].current() is not None
