# The call engine against hostile stanzas a household device or a switchboard can send: every
# value the engine makes and hands to a bounded store (the call log's peer and reason) fits it,
# and every stanza the engine queues can be encoded, so one bad offer never reaches the edge as
# an exception (issue 14, items 1 and 2).
from enginenet import RELAY, FakeKeys, Net, only, ring, wire_copy
from portier.signaling import calllog
from portier.signaling import stanzas as st
from portier.signaling.engine import CallEngine
from portier.wire import stanza as wire

DOOR = "door:1@home"
PHONE = "anna:1@home"


class _LongError(FakeKeys):
    def unwrap(self, sender, enc_type, ciphertext):
        # as long as the real Signal layer's messages get ("key: " + 41 characters)
        raise ValueError("unknown message version byte 0x77 in pkmsg")


def _encodable(engine):
    out = engine.pending()
    for s in out:
        wire.encode(s.to_node())  # raises for a stanza the link could not send
    return out


def _logged(ev):
    log = calllog.CallLog(None, 5)
    log.add(ev.direction, ev.peer, ev.outcome, ev.reason, 0, ev.duration_s)  # raises if over
    return log


def test_key_failure_reason_fits_the_call_log():
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phone = CallEngine(PHONE, _LongError(PHONE))
    net = Net([door, phone])
    call_id = ring(door, [phone], net)
    phone.events()
    phone.answer(call_id, 2000)
    end = only(phone.events(), "ended")
    assert end.outcome == "failed" and end.reason.startswith("key: ")
    assert len(end.reason) <= 32, end.reason
    _logged(end)
    net.pump(2000)
    assert (only(door.events(), "ended").reason) == "error"


def test_auto_answer_with_a_bad_key_fits_the_call_log():
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phone = CallEngine(PHONE, _LongError(PHONE), auto_answer=(DOOR,))
    net = Net([door, phone])
    ring(door, [phone], net)
    _logged(only(phone.events(), "ended"))


def _offer(**kw):
    fields = dict(call_id="C1", call_creator="eve:1@home", audio=[("pcmu", 8000)],
                  enc=st.enc(b"x", "msg"), relay=RELAY, stanza_id="S1", frm="eve:1@home")
    fields.update(kw)
    return st.Stanza("offer", **fields)


def test_offer_without_an_id_is_ignored_and_nothing_unsendable_is_queued():
    phone = CallEngine(PHONE, FakeKeys(PHONE))
    msg = wire_copy(_offer(stanza_id=None, frm=None, to=PHONE), "eve:1@home")
    assert msg.stanza_id is None
    phone.handle(msg, 0)
    assert _encodable(phone) == []
    assert phone.current() is None and phone.ignored == 1
    assert phone.events() == []


def test_offer_from_an_overlong_jid_is_ignored():
    phone = CallEngine(PHONE, FakeKeys(PHONE))
    jid = "e" * 200 + ":1@home"
    msg = wire_copy(_offer(call_creator=jid, frm=None, to=PHONE), jid)
    phone.handle(msg, 0)
    out = _encodable(phone)
    assert [s.action for s in out] == ["ack"]  # the stanza is acked, the call never rings
    assert phone.current() is None and phone.events() == []


def test_busy_reply_to_a_hostile_second_offer_fits_the_call_log():
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phone = CallEngine(PHONE, FakeKeys(PHONE))
    net = Net([door, phone])
    ring(door, [phone], net)
    phone.events()
    jid = "m" * 90 + ":1@home"
    msg = wire_copy(_offer(call_id="C2", call_creator=jid, enc=st.enc(PHONE.encode() + b"|k", "msg"),
                           frm=None, to=PHONE), jid)
    phone.handle(msg, 0)
    _encodable(phone)
    for ev in phone.events():
        _logged(ev)
