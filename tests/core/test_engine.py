# The call engine through every flow of the model, engines wired by a miniature switchboard.
from coretest import assert_raises
from enginenet import HOUSEHOLD, RELAY, FakeKeys, Net, only, ring, wire_copy
from portier.signaling import stanzas as st
from portier.signaling.engine import CallEngine, CallError

DOOR = "door:1@home"
PHONES = ["anna:1@home", "ben:1@home", "cleo:2@home"]
RING_MS = 30000


def _setup(n_phones=3, **kw):
    door = CallEngine(DOOR, FakeKeys(DOOR), ring_timeout_ms=RING_MS, **kw)
    phones = [CallEngine(p, FakeKeys(p), ring_timeout_ms=RING_MS) for p in PHONES[:n_phones]]
    return door, phones, Net([door] + phones)


def _events(engine, kind=None):
    return [e for e in engine.events() if kind is None or e.kind == kind]


def test_answered_by_one_of_three():
    door, phones, net = _setup()
    call_id = ring(door, phones, net)
    ev = _events(door)
    assert sorted(e.peer for e in ev if e.kind == "ringing") == sorted(PHONES)
    for p in phones:
        assert [e.kind for e in p.events()] == ["ringing"]
    phones[1].answer(call_id, 5000)
    net.pump(5000)
    ev = door.events()
    media = only(ev, "media")
    assert media.peer == PHONES[1] and media.relay == RELAY and len(media.call_key) == 32
    assert media.codec == ("pcmu", 8000)
    p_media = only(phones[1].events(), "media")
    assert p_media.call_key == media.call_key and p_media.relay == RELAY
    for other in (phones[0], phones[2]):
        end = only(other.events(), "ended")
        assert (end.outcome, end.reason) == ("answered_elsewhere", "accepted_elsewhere")
        assert other.keys.unwrapped == 0  # never opened the call key
    door.hang_up(call_id, 65000)
    net.pump(65000)
    d_end = only(door.events(), "ended")
    p_end = only(phones[1].events(), "ended")
    assert (d_end.direction, d_end.outcome, d_end.duration_s) == ("out", "answered", 60)
    assert (p_end.direction, p_end.outcome, p_end.duration_s, p_end.peer) == ("in", "answered", 60, DOOR)
    assert door.current() is None and phones[1].current() is None


def test_wire_sequence_of_an_answered_call():
    door, phones, net = _setup(1)
    call_id = ring(door, phones, net)
    phones[0].answer(call_id, 2000)
    net.pump(2000)
    phones[0].hang_up(call_id, 9000)
    net.pump(9000)
    assert net.log == [
        (DOOR, PHONES[0], "offer"),
        ("switchboard", DOOR, "ack"),  # the switchboard's offer ack, with the relay block
        (PHONES[0], DOOR, "ack"),
        (PHONES[0], DOOR, "receipt"),
        (PHONES[0], DOOR, "preaccept"),
        (DOOR, PHONES[0], "ack"),
        (PHONES[0], DOOR, "accept"),
        (DOOR, PHONES[0], "ack"),
        (DOOR, PHONES[0], "transport"),  # the caller confirms: this device won, start media
        (PHONES[0], DOOR, "ack"),
        (PHONES[0], DOOR, "terminate"),
        (DOOR, PHONES[0], "ack"),
    ]
    assert only(door.events(), "ended").outcome == "answered"


def test_rejected_stops_the_others():
    door, phones, net = _setup()
    call_id = ring(door, phones, net)
    for p in phones:
        p.events()
    door.events()
    phones[2].reject(call_id, 3000)
    net.pump(3000)
    d = door.events()
    assert only(d, "ended").outcome == "declined"
    assert not [e for e in d if e.kind == "media"]
    assert only(phones[2].events(), "ended").outcome == "declined"
    for other in phones[:2]:
        end = only(other.events(), "ended")
        assert (end.outcome, end.reason) == ("declined_elsewhere", "rejected_elsewhere")
    assert all(p.keys.unwrapped == 0 for p in phones)


def test_busy_ends_only_that_leg():
    door, phones, net = _setup(2)
    # ben is already on a call with someone else
    other = CallEngine("dana:1@home", FakeKeys("dana:1@home"))
    net.engines[other.me] = other
    side = other.place_call(PHONES[1], [PHONES[1]], 0)
    net.pump(0)
    phones[1].answer(side, 10)
    net.pump(10)
    for e in [door, other] + phones:
        e.events()
    call_id = ring(door, phones, net, 1000)
    busy_end = only(phones[1].events(), "ended")
    assert (busy_end.call_id, busy_end.outcome) == (call_id, "busy")
    assert door.current() is not None  # anna still rings
    phones[0].answer(call_id, 4000)
    net.pump(4000)
    assert only(door.events(), "media").peer == PHONES[0]
    assert phones[1].current().id == side  # ben's own call is untouched


def test_all_busy_ends_the_call_busy():
    door, phones, net = _setup(1)
    other = CallEngine("dana:1@home", FakeKeys("dana:1@home"))
    net.engines[other.me] = other
    side = other.place_call(PHONES[0], [PHONES[0]], 0)
    net.pump(0)
    phones[0].answer(side, 10)
    net.pump(10)
    door.events()
    ring(door, phones, net, 1000)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason) == ("busy", "busy")


def test_missed_by_ring_timeout():
    door, phones, net = _setup()
    call_id = ring(door, phones, net)
    assert door.next_deadline() is not None
    net.tick(1000 + RING_MS - 1)
    assert door.current() is not None
    net.tick(1000 + RING_MS)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason, end.duration_s) == ("unanswered", "timeout", 0)
    for p in phones:
        pe = only(p.events(), "ended")
        assert (pe.outcome, pe.reason) == ("missed", "timeout")
        assert p.current() is None and p.keys.unwrapped == 0
    # the closed call is never revived: a late accept is acked and ignored
    assert_raises(CallError, phones[0].answer, call_id, 40000)
    ignored = door.ignored
    late = st.Stanza("accept", call_id=call_id, call_creator=DOOR, audio=[("pcmu", 8000)],
                     to=DOOR, stanza_id="LATE")
    door.handle(wire_copy(late, PHONES[0]), 40000)
    assert door.current() is None and door.events() == [] and door.ignored == ignored + 1


def test_cancelled_by_the_caller_leaves_missed_calls():
    door, phones, net = _setup(2)
    call_id = ring(door, phones, net)
    door.events()
    door.hang_up(call_id, 4000)
    net.pump(4000)
    assert only(door.events(), "ended").outcome == "cancelled"
    for p in phones:
        assert only(p.events(), "ended").outcome == "missed"


def test_incoming_call_to_the_door():
    door, phones, net = _setup(1)
    call_id = phones[0].place_call(DOOR, [DOOR], 500)
    net.pump(500)
    ring = only(door.events(), "ringing")
    assert (ring.direction, ring.peer) == ("in", PHONES[0])
    door.answer(call_id, 2500)
    net.pump(2500)
    d_media = only(door.events(), "media")
    p_media = only(phones[0].events(), "media")
    assert d_media.call_key == p_media.call_key and d_media.peer == PHONES[0]


def test_auto_answer_for_paired_devices():
    door = CallEngine(DOOR, FakeKeys(DOOR), auto_answer=(PHONES[0],))
    anna = CallEngine(PHONES[0], FakeKeys(PHONES[0]))
    ben = CallEngine(PHONES[1], FakeKeys(PHONES[1]))
    net = Net([door, anna, ben])
    anna.place_call(DOOR, [DOOR], 0)
    net.pump(0)
    assert only(anna.events(), "media").peer == DOOR
    anna.hang_up(anna.current().id, 100)
    net.pump(100)
    door.events()
    ben.place_call(DOOR, [DOOR], 200)  # not paired: it rings
    net.pump(200)
    assert [e.kind for e in door.events()] == ["ringing"]


def test_unknown_and_late_stanzas_are_acked_and_ignored():
    from portier.signaling import stanzas as st
    from portier.wire.stanza import Node

    door, phones, net = _setup(1)
    unknown = st.parse(Node("call", {"from": PHONES[0], "id": "ABC"},
                            [Node("video", {"call-id": "X1", "call-creator": DOOR})]))
    door.handle(unknown, 0)
    late = st.Stanza("terminate", call_id="FFFF", call_creator=DOOR, reason="timeout",
                     frm=PHONES[0], stanza_id="DEF")
    door.handle(late, 0)
    acks = door.pending()
    assert [(a.action, a.stanza_id, a.to) for a in acks] == [("ack", "ABC", PHONES[0]),
                                                           ("ack", "DEF", PHONES[0])]
    assert door.ignored == 2 and door.events() == []


def test_offer_retransmitted_then_given_up():
    door, phones, net = _setup(1, ack_timeout_ms=2000, offer_tries=3)
    net.drop = lambda s, r, m: m.action == "ack" and r == DOOR  # acks to the door get lost
    ring(door, phones, net, 0)
    net.tick(2000)
    net.tick(4000)
    offers = [x for x in net.log if x[2] == "offer"]
    assert len(offers) == 1  # retransmissions reuse the stanza id: no second fan-out
    assert door.current() is not None
    net.tick(6000)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason) == ("failed", "no_ack")
    assert only(phones[0].events(), "ended").outcome == "missed"


def test_a_second_call_while_busy_is_rejected_busy():
    door, phones, net = _setup(2)
    first = phones[0].place_call(DOOR, [DOOR], 0)
    net.pump(0)
    door.answer(first, 10)
    net.pump(10)
    door.events()
    phones[1].place_call(DOOR, [DOOR], 20)
    net.pump(20)
    assert only(door.events(), "ended").outcome == "busy"
    assert only(phones[1].events(), "ended").outcome == "busy"
    assert door.current().id == first


def test_max_call_duration():
    door, phones, net = _setup(1, max_call_ms=120000)
    call_id = ring(door, phones, net, 0)
    phones[0].answer(call_id, 1000)
    net.pump(1000)
    net.tick(121000)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason, end.duration_s) == ("answered", "max_duration", 120)
    assert only(phones[0].events(), "ended").reason == "max_duration"


def test_a_key_that_does_not_open_fails_only_that_device():
    door, phones, net = _setup(2)
    call_id = ring(door, phones, net)
    phones[0].keys.fail = True
    for e in [door] + phones:
        e.events()
    phones[0].answer(call_id, 2000)
    net.pump(2000)
    assert only(phones[0].events(), "ended").outcome == "failed"
    assert door.events() == [] and door.current() is not None  # ben still rings
    phones[1].keys.fail = True
    phones[1].answer(call_id, 3000)
    net.pump(3000)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason) == ("failed", "error")


def test_intents_refused_when_illegal():
    door, phones, net = _setup(1)
    assert_raises(CallError, door.answer, "NOPE", 0)
    assert_raises(CallError, door.place_call, HOUSEHOLD, [], 0)
    call_id = ring(door, phones, net)
    assert_raises(CallError, door.place_call, HOUSEHOLD, PHONES[:1], 0)
    assert_raises(CallError, door.answer, call_id, 0)  # the caller cannot answer its own call


def test_link_lost_ends_everything_once():
    door, phones, net = _setup(1)
    call_id = ring(door, phones, net)
    phones[0].answer(call_id, 1000)
    net.pump(1000)
    door.events()
    door.link_lost(50000)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason, end.duration_s) == ("answered", "connection_lost", 49)
    assert door.pending() == [] and door.current() is None



def test_hang_up_for_lost_media_tells_the_peer_why():
    # The app's media-silence hang-up (docs/protocol.md 8.3): both ends log the call once,
    # answered, with reason connection_lost; the crossing terminate of the other end is ignored.
    door, phones, net = _setup(1)
    call_id = ring(door, phones, net)
    phones[0].answer(call_id, 1000)
    net.pump(1000)
    door.events()
    phones[0].events()
    door.hang_up(call_id, 21000, reason="connection_lost")
    phones[0].hang_up(call_id, 21000, reason="connection_lost")  # its media went quiet too
    sent = [m for m in door.pending()]
    assert [(m.action, m.reason, m.duration) for m in sent] == [("terminate", "connection_lost", 20)]
    for m in sent:
        net._route(DOOR, m, 21000)
    net.pump(21000)
    for engine in (door, phones[0]):
        end = only(engine.events(), "ended")
        assert (end.outcome, end.reason, end.duration_s) == ("answered", "connection_lost", 20)
        assert engine.current() is None
    assert phones[0].ignored == 1 and door.ignored == 1  # each other's late terminate
