# <unlock> as a move of the call engine (docs/protocol.md 10.3 steps 2-4): only the device that
# answered the call this device placed, only while that call is answered, naming that call. Each
# <unlock> is acked and becomes one "unlock" event with the engine's verdict; a refused one
# changes nothing in the engine. (Whether the door opens, portier.unlock: test_unlock.)
from enginenet import FakeKeys, Net, only, ring, wire_copy
from portier.signaling import stanzas as st
from portier.signaling.engine import CallEngine

DOOR = "door:1@home"
ANNA = "anna:1@home"
BEN = "ben:1@home"


def _setup():
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phones = [CallEngine(p, FakeKeys(p)) for p in (ANNA, BEN)]
    return door, phones, Net([door] + phones)


def _unlock(engine, frm, call_id, creator, now, sid="U1"):
    """engine hears an <unlock> (through the wire codec, `from` stamped frm) -> its one event."""
    msg = st.Stanza("unlock", call_id=call_id, call_creator=creator, to=engine.me,
                    enc=st.enc(b"\x33signal message", "msg"), stanza_id=sid)
    engine.handle(wire_copy(msg, frm), now)
    sent = engine.pending()
    assert [(s.action, s.stanza_id, s.to) for s in sent] == [("ack", sid, frm)], sent
    ev = only(engine.events(), "unlock")
    assert ev.peer == frm and ev.call_id == call_id and ev.stanza.enc.ciphertext.endswith(b"message")
    return ev


def _refused(engine, frm, call_id, creator, why, now):
    before = _snapshot(engine)
    ev = _unlock(engine, frm, call_id, creator, now)
    assert (ev.reason, ev.answered_for_ms) == (why, None), (ev.reason, why)
    assert _snapshot(engine) == before, "a refused unlock changed the engine"


def _snapshot(engine):
    call = engine.current()
    c = None if call is None else (call.id, call.state, call.peer, call.answered_ms,
                                   sorted(call.legs.items()), call.call_key)
    return c, engine.next_deadline(), engine.ignored, list(engine._closed)


def test_only_the_answerer_of_the_doors_answered_call_is_admitted():
    door, (anna, ben), net = _setup()
    call_id = ring(door, [anna, ben], net, 1000)
    _refused(door, ANNA, call_id, DOOR, "no_call", 2000)  # ringing: nobody has answered
    anna.answer(call_id, 5000)
    net.pump(5000)
    door.events()
    ev = _unlock(door, ANNA, call_id, DOOR, 7500)
    assert ev.reason is None and ev.answered_for_ms == 2500
    assert door.answered_call().id == call_id  # the call goes on
    _refused(door, BEN, call_id, DOOR, "not_answerer", 8000)  # rung too, did not answer
    _refused(door, None, call_id, DOOR, "not_answerer", 8000)  # no sender stamped
    _refused(door, ANNA, "0" * 32, DOOR, "wrong_call", 8000)
    _refused(door, ANNA, call_id, ANNA, "wrong_call", 8000)
    # the answering phone is a callee: nobody opens anything through it
    anna.events()
    _refused(anna, DOOR, call_id, DOOR, "no_call", 8000)
    door.hang_up(call_id, 9000)
    net.pump(9000)
    _refused(door, ANNA, call_id, DOOR, "no_call", 9500)  # after the hang-up


def test_a_call_to_the_door_allows_no_unlock():
    door, (anna, _), net = _setup()
    call_id = anna.place_call(DOOR, [DOOR], 1000)
    net.pump(1000)
    door.answer(call_id, 2000)
    net.pump(2000)
    assert door.answered_call() is not None
    door.events()
    _refused(door, ANNA, call_id, ANNA, "no_call", 3000)


def test_the_answer_is_timed_across_the_ticks_wrap():
    import time

    door, (anna, _), net = _setup()
    start = time.ticks_add(0, -3000)  # 3 s before the counter wraps
    call_id = ring(door, [anna], net, start)
    anna.answer(call_id, time.ticks_add(start, 1000))
    net.pump(time.ticks_add(start, 1000))
    ev = _unlock(door, ANNA, call_id, DOOR, time.ticks_add(start, 5000))
    assert ev.reason is None and ev.answered_for_ms == 4000
