# The engine's rulebook checks a move before anything changes: in each state of either role,
# every stanza the engine refuses (acks and ignores) and every intent it refuses (CallError)
# leaves it exactly as it was: its calls, their legs and keys, its timers and held stanzas, the
# closed call-ids; it queues nothing but the stanza's ack and tells the app nothing.
from coretest import assert_raises
from enginenet import SWITCHBOARD, FakeKeys, Net, ring, wire_copy
from portier.signaling import stanzas as st
from portier.signaling.engine import CallEngine, CallError

DOOR = "door:1@home"
ANNA = "anna:1@home"
BEN = "ben:1@home"
EVE = "eve:9@home"  # a device of no call here, or a forged sender


def _snapshot(e):
    calls = []
    for cid in sorted(e._calls):
        c = e._calls[cid]
        calls.append((c.id, c.creator, c.peer, c.state, c.answered_ms, sorted(c.legs.items()),
                      c.call_key, sorted(c.leg_keys.items()) if c.leg_keys else None, c.enc,
                      c.relay, c.codec, c.offer, c.tries))
    return calls, [list(t) for t in e._timers], list(e._closed)


def _world(state):
    """-> (the engine in `state`, the call-id, the call's other end); door rings Anna and Ben."""
    door = CallEngine(DOOR, FakeKeys(DOOR))
    anna, ben = CallEngine(ANNA, FakeKeys(ANNA)), CallEngine(BEN, FakeKeys(BEN))
    lose_transport = state == "accepting"
    # the devices' acks are lost: what each engine holds for retransmission is part of its state
    net = Net([door, anna, ben], drop=lambda s, r, m: (m.action == "ack" and s != SWITCHBOARD) or (
        lose_transport and m.action == "transport"))
    if state == "offering":  # the switchboard has not acked the offer yet
        return door, door.place_call("home@portier", [ANNA, BEN], 1000), ANNA
    call_id = ring(door, [anna, ben], net, 1000)
    if state == "ringing":
        return door, call_id, ANNA
    if state == "incoming":
        return anna, call_id, DOOR
    anna.answer(call_id, 2000)
    net.pump(2000)
    return {"out_active": door, "accepting": anna, "in_active": anna}[state], call_id, (
        ANNA if state == "out_active" else DOOR)


_KINDS = (("accept", {"audio": [("pcmu", 8000)]}), ("reject", {}), ("reject", {"reason": "busy"}),
          ("reject", {"reason": "error"}), ("terminate", {}),
          ("terminate", {"reason": "accepted_elsewhere"}),
          ("terminate", {"reason": "rejected_elsewhere"}), ("transport", {"message_type": 1}),
          ("preaccept", {"audio": [("pcmu", 8000)]}),
          ("relaylatency", {"rtt_ms": 20, "address": b"\x7f\x00\x00\x01\x0d\x96"}))


def _stanza(i, call_id, me):
    """The i-th of every stanza kind about the call, about no call and with the wrong creator,
    from each kind of sender, as the switchboard delivers it; None past the last."""
    action, fields = _KINDS[i % len(_KINDS)]
    i //= len(_KINDS)
    cid, creator = ((call_id, DOOR), ("0" * 32, DOOR), (call_id, EVE))[i % 3]
    i //= 3
    if i >= 4:
        return None
    msg = st.Stanza(action, call_id=cid, call_creator=creator, to=me, stanza_id="X1", **fields)
    return wire_copy(msg, (ANNA, BEN, DOOR, EVE)[i])


def test_refused_stanzas_change_nothing_in_any_state():
    refused = {}
    for state in ("offering", "ringing", "out_active", "incoming", "accepting", "in_active"):
        engine, call_id, _ = _world(state)
        if state in ("out_active", "accepting"):  # its transport or accept awaits an ack
            assert [t for t in engine._timers if t[3] is not None], state
        i = 0
        while True:
            msg = _stanza(i, call_id, engine.me)
            i += 1
            if msg is None:
                break
            engine.pending()
            engine.events()
            before, ignored = _snapshot(engine), engine.ignored
            engine.handle(msg, 3000)
            if engine.ignored == ignored:  # a legal move: the next input starts afresh
                engine, call_id, _ = _world(state)
                continue
            refused[state] = refused.get(state, 0) + 1
            why = (state, msg.action, msg.frm, msg.call_id == call_id, getattr(msg, "reason", None))
            assert _snapshot(engine) == before, why
            assert [s.action for s in engine.pending()] == ["ack"], why
            assert engine.events() == [], why
    # each state refuses most of what it is sent (about no call, from the wrong device, ...)
    assert sorted(refused) == ["accepting", "in_active", "incoming", "offering", "out_active",
                               "ringing"], refused
    assert min(refused.values()) >= 100, refused


def test_refused_intents_change_nothing_in_any_state():
    for state in ("offering", "ringing", "out_active", "incoming", "accepting", "in_active"):
        engine, call_id, peer = _world(state)
        engine.pending()
        engine.events()
        before = _snapshot(engine)
        intents = [(engine.place_call, (peer, [peer], 3000))]  # one call at a time
        for cid in (call_id, "0" * 32):
            intents += [(engine.answer, (cid, 3000)), (engine.reject, (cid, 3000)),
                        (engine.reject, (cid, 3000, True))]
        intents.append((engine.hang_up, ("0" * 32, 3000)))
        refused = 0
        for intent, args in intents:
            try:
                intent(*args)
            except CallError:
                refused += 1
                assert _snapshot(engine) == before, (state, intent, args)
                assert engine.pending() == [] and engine.events() == [], (state, intent)
                continue
            engine, call_id, peer = _world(state)  # it was legal here: start afresh
            engine.pending()
            engine.events()
            before = _snapshot(engine)
        assert refused >= 5, (state, refused)  # only a ringing callee may answer or reject
        if state != "incoming":
            assert refused == len(intents), state
    assert_raises(CallError, CallEngine(DOOR, FakeKeys(DOOR)).hang_up, "0" * 32, 0)
