# Retransmission of what a switchboard restart can swallow (docs/protocol.md 8.3): a stanza a
# device wrote into its link just before the switchboard died never arrives and is not in the
# link's outbox. The engine sends an accept, transport, reject or an answered call's terminate
# again, same stanza id, 2 s and then 4 s later (3 sends in all) until the peer's ack; the
# receiver acks the duplicate and changes nothing. The network here loses exactly the stanzas a
# test names.
from enginenet import FakeKeys, Net, only, ring
from portier.signaling.engine import CallEngine

DOOR = "door:1@home"
PHONE = "anna:1@home"
BEN = "ben:1@home"
T0 = 1000  # the ring
T1 = 3000  # the phone answers


def held(engine):
    """The stanzas an engine holds until the peer acks them: its timers that carry one."""
    return [t[3] for t in engine._timers if t[3] is not None]


class Loss:
    """A drop hook for Net: loses the first `times` stanzas of `action` from sender to receiver
    and keeps every stanza of that kind it saw (lost or not), in order."""

    def __init__(self, action, sender, receiver, times=1):
        self.action, self.sender, self.receiver = action, sender, receiver
        self.left = times
        self.seen = []

    def __call__(self, sender, receiver, msg):
        if (msg.action, sender, receiver) != (self.action, self.sender, self.receiver):
            return False
        self.seen.append(msg)
        if self.left > 0:
            self.left -= 1
            return True
        return False


def _losing(*losses):
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phone = CallEngine(PHONE, FakeKeys(PHONE))
    net = Net([door, phone], drop=lambda s, r, m: any(loss(s, r, m) for loss in losses))
    return door, phone, net


def _answered_with(*losses):
    door, phone, net = _losing(*losses)
    call_id = ring(door, [phone], net, T0)
    phone.answer(call_id, T1)
    net.pump(T1)
    return door, phone, net, call_id


def _kinds(engine):
    return [e.kind for e in engine.events()]


def _actions(net, sender):
    return [x[2] for x in net.log if x[0] == sender]


def _sent(net, action, sender):
    return [x for x in net.log if x[2] == action and x[0] == sender]


def test_a_lost_transport_is_sent_again_and_the_call_is_answered_on_both_sides():
    lost = Loss("transport", DOOR, PHONE)
    door, phone, net, call_id = _answered_with(lost)
    assert _kinds(door) == ["ringing", "answered", "media"]
    assert _kinds(phone) == ["ringing"]  # accepting: no media before the caller's confirmation
    assert phone.answered_call() is None and phone.current() is not None
    net.tick(T1 + 1999)
    assert len(lost.seen) == 1 and phone.answered_call() is None
    net.tick(T1 + 2000)
    assert len(lost.seen) == 2 and lost.seen[1].stanza_id == lost.seen[0].stanza_id  # same id
    assert _kinds(phone) == ["answered", "media"]
    assert phone.answered_call().id == call_id
    assert door.events() == [] and door.answered_call().id == call_id
    # acked: held no longer, sent no more (only the maximum-duration timer is left)
    assert held(door) == [] and held(phone) == []
    assert door.next_deadline() == door.answered_call().answered_ms + 600000  # max_call_ms
    net.tick(T1 + 6000)
    assert len(lost.seen) == 2
    phone.hang_up(call_id, T1 + 10000)
    net.pump(T1 + 10000)
    for engine, talked_s in ((door, 10), (phone, 8)):  # each end counts from its own answer
        end = only(engine.events(), "ended")
        assert (end.outcome, end.reason, end.duration_s) == ("answered", None, talked_s)


class AckLoss:
    """Loses the receiver's first ack of the first `action` from sender."""

    def __init__(self, action, sender):
        self.action, self.sender = action, sender
        self.stanza_id = None
        self.lost = 0

    def __call__(self, sender, receiver, msg):
        if msg.action == self.action and sender == self.sender and self.stanza_id is None:
            self.stanza_id = msg.stanza_id
        elif (msg.action == "ack" and receiver == self.sender and not self.lost
              and msg.stanza_id == self.stanza_id):
            self.lost += 1
            return True
        return False


def test_a_duplicate_transport_is_acked_again_and_changes_nothing():
    # The phone's ack of the transport is lost: the door sends the transport again.
    lost = AckLoss("transport", DOOR)
    door, phone, net, call_id = _answered_with(lost)
    assert lost.lost == 1
    assert _kinds(phone) == ["ringing", "answered", "media"]
    assert _kinds(door) == ["ringing", "answered", "media"]
    assert len(held(door)) == 1
    ignored = phone.ignored
    net.tick(T1 + 2000)
    assert len(_sent(net, "transport", DOOR)) == 2
    assert phone.events() == [] and phone.ignored == ignored + 1  # acked, no second answer
    assert phone.answered_call().id == call_id and door.events() == []
    assert held(door) == []  # the second ack ended the retransmission
    net.tick(T1 + 6000)
    assert len(_sent(net, "transport", DOOR)) == 2


def test_a_duplicate_accept_is_acked_again_and_changes_nothing():
    # The accept's ack and the transport are both lost: both ends send again at +2 s; the door
    # acks the second accept and ignores it (no second transport of its own, no second event).
    lost_ack = Loss("ack", DOOR, PHONE)
    lost_transport = Loss("transport", DOOR, PHONE)
    door, phone, net = _losing(lost_transport)
    call_id = ring(door, [phone], net, T0)
    net.drop = lambda s, r, m: lost_ack(s, r, m) or lost_transport(s, r, m)  # from here on
    phone.answer(call_id, T1)
    net.pump(T1)
    assert len(held(door)) == 1 and len(held(phone)) == 1
    door.events()
    phone.events()
    ignored = door.ignored
    net.tick(T1 + 2000)
    accepts = _sent(net, "accept", PHONE)
    assert len(accepts) == 2 and door.ignored == ignored + 1
    assert len(lost_transport.seen) == 2  # its own retransmission, not one per accept
    assert door.events() == []
    assert _kinds(phone) == ["answered", "media"]
    assert held(door) == [] and held(phone) == []
    net.tick(T1 + 6000)
    assert len(_sent(net, "accept", PHONE)) == 2 and len(lost_transport.seen) == 2


def test_a_lost_terminate_ends_the_call_at_the_peer_once():
    door, phone, net, call_id = _answered_with()
    door.events()
    phone.events()
    lost = Loss("terminate", PHONE, DOOR)
    net.drop = lost
    phone.hang_up(call_id, T1 + 5000)
    net.pump(T1 + 5000)
    assert only(phone.events(), "ended").outcome == "answered"
    assert door.answered_call() is not None  # it never heard
    net.tick(T1 + 7000)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason, end.duration_s) == ("answered", None, 7)  # heard at +7 s
    assert phone.events() == [] and held(phone) == [] and phone.next_deadline() is None
    assert door.next_deadline() is None


def test_a_lost_decline_is_sent_again():
    door, phone, net = _losing(Loss("reject", PHONE, DOOR))
    call_id = ring(door, [phone], net, T0)
    door.events()
    phone.reject(call_id, T1)
    net.pump(T1)
    assert only(phone.events(), "ended").outcome == "declined"
    assert door.current() is not None and door.events() == []
    net.tick(T1 + 2000)
    end = only(door.events(), "ended")
    assert (end.outcome, end.reason) == ("declined", None)
    assert held(phone) == [] and door.current() is None


def test_a_duplicate_terminate_and_reject_change_nothing_at_the_receiver():
    # Every ack to the phone is lost: it sends its terminate three times; the door logs the call
    # once and acks each copy.
    door, phone, net, call_id = _answered_with()
    door.events()
    lost_acks = []
    net.drop = lambda s, r, m: m.action == "ack" and r == PHONE and not lost_acks.append(m)
    phone.hang_up(call_id, T1 + 1000)
    net.pump(T1 + 1000)
    net.tick(T1 + 3000)
    net.tick(T1 + 7000)
    terminates = [m for m in _actions(net, PHONE) if m == "terminate"]
    assert len(terminates) == 3
    assert len(lost_acks) == 3 and len(set(a.stanza_id for a in lost_acks)) == 1
    assert [e.kind for e in door.events()] == ["ended"] and door.ignored == 2
    # a reject the caller already had (a declined call, every ack to the callee lost)
    door, phone, net = _losing()
    call_id = ring(door, [phone], net, T0)
    net.drop = lambda s, r, m: m.action == "ack" and r == PHONE
    door.events()
    phone.reject(call_id, T1)
    net.pump(T1)
    net.tick(T1 + 2000)
    assert len(_sent(net, "reject", PHONE)) == 2
    assert only(door.events(), "ended").outcome == "declined" and door.ignored == 1
    assert door.pending() == []  # the duplicate's ack went out; nothing else (no terminates)


def test_retransmission_stops_after_the_last_try():
    # The caller is gone for good: the callee's terminate goes out at +0, +2 s and +6 s, then
    # nothing is held and no timer is left.
    door, phone, net, call_id = _answered_with()
    lost = []
    net.drop = lambda s, r, m: lost.append((m.action, m.stanza_id)) or True
    phone.hang_up(call_id, T1 + 1000)
    net.pump(T1 + 1000)
    assert len(held(phone)) == 1
    assert phone.next_deadline() == T1 + 3000
    net.tick(T1 + 3000)
    assert phone.next_deadline() == T1 + 7000
    net.tick(T1 + 6999)
    assert len(lost) == 2
    net.tick(T1 + 7000)
    assert held(phone) == [] and phone.next_deadline() is None
    net.tick(T1 + 60000)
    assert [a for a, _ in lost] == ["terminate"] * 3
    assert len(set(i for _, i in lost)) == 1  # one stanza id


def test_retransmission_stops_when_the_call_ends():
    # The phone's accept is lost; before it is sent again the caller cancels: the accept is
    # never sent again (the call is over), and nothing is held.
    lost = Loss("accept", PHONE, DOOR)
    door, phone, net, call_id = _answered_with(lost)
    assert len(held(phone)) == 1
    door.hang_up(call_id, T1 + 1000)  # cancels: the door never had the accept
    net.pump(T1 + 1000)
    assert only(phone.events(), "ended").outcome == "missed"
    assert held(phone) == [] and phone.next_deadline() is None
    net.tick(T1 + 2000)
    net.tick(T1 + 6000)
    assert len(lost.seen) == 1


def test_at_most_one_stanza_held_per_call():
    # The transport is lost; the caller then hangs up: its terminate replaces the transport.
    door, phone, net, call_id = _answered_with(Loss("transport", DOOR, PHONE),
                                               Loss("terminate", DOOR, PHONE))
    assert [s.action for s in held(door)] == ["transport"]
    door.hang_up(call_id, T1 + 500)
    net.pump(T1 + 500)
    assert [s.action for s in held(door)] == ["terminate"]
    net.tick(T1 + 2500)
    assert held(door) == [] and door.next_deadline() is None
    ends = [e for e in phone.events() if e.kind == "ended"]
    assert [(e.outcome, e.reason) for e in ends] == [("missed", None)]  # never connected there
    assert phone.current() is None


def test_a_busy_reject_is_sent_again():
    door = CallEngine(DOOR, FakeKeys(DOOR))
    anna = CallEngine(PHONE, FakeKeys(PHONE))
    ben = CallEngine(BEN, FakeKeys(BEN))
    lost = Loss("reject", DOOR, BEN)
    net = Net([door, anna, ben], drop=lost)
    first = anna.place_call(DOOR, [DOOR], 0)
    net.pump(0)
    door.answer(first, 10)
    net.pump(10)
    ben.place_call(DOOR, [DOOR], 100)
    net.pump(100)
    assert ben.current() is not None
    net.tick(2100)
    end = only([e for e in ben.events() if e.kind == "ended"], "ended")
    assert (end.outcome, end.reason) == ("busy", "busy")
    assert door.answered_call().id == first and held(door) == []


def test_link_lost_drops_what_is_held():
    door, phone, net, call_id = _answered_with(Loss("transport", DOOR, PHONE))
    assert len(held(door)) == 1
    door.link_lost(T1 + 1000)
    assert held(door) == [] and door.next_deadline() is None
