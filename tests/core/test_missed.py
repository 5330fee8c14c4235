# Missed rings (docs/protocol.md 8.3): a press without a link is kept and told to each device
# paired then, again every RESEND_MS until that device acks; bounded in count and age. The
# <missed> stanza through the real wire codec.
import time

from coretest import assert_raises
from portier import missed
from portier.signaling import stanzas as st
from portier.wire import stanza as wire

DOOR = "door:1@home"
ANNA = "anna:1@home"
BEN = "ben:1@home"


def _ids():
    n = [0]

    def new_id():
        n[0] += 1
        return "S%d" % n[0]

    return new_id


def test_a_ring_is_told_to_each_device_until_it_acks():
    m = missed.MissedRings(DOOR, _ids())
    t0 = 1000
    m.add("C1", 1700000000, [ANNA, BEN], t0)
    assert m.pending() == 2
    # pressed at t0, the link is back 95 s later
    now = time.ticks_add(t0, 95000)
    m.relinked(now)
    out = m.due(now)
    assert [(s.to, s.call_id, s.call_creator, s.ago_s, s.start, s.reason) for s in out] == [
        (ANNA, "C1", DOOR, 95, 1700000000, "no_link"), (BEN, "C1", DOOR, 95, 1700000000, "no_link")]
    assert m.due(time.ticks_add(now, 1000)) == []  # not again before RESEND_MS
    assert m.acked(out[0].stanza_id) == ("C1", ANNA)
    assert m.acked(out[0].stanza_id) is None  # a second ack changes nothing
    assert m.pending() == 1
    later = time.ticks_add(now, missed.RESEND_MS)
    again = m.due(later)
    assert [(s.to, s.stanza_id) for s in again] == [(BEN, out[1].stanza_id)]  # same id: any ack
    assert again[0].ago_s == 95 + missed.RESEND_MS // 1000
    assert m.acked(out[1].stanza_id) == ("C1", BEN)
    assert m.pending() == 0 and m.rings == [] and m.due(later) == []


def test_bounded_in_count_and_age_and_no_devices_keeps_nothing():
    m = missed.MissedRings(DOOR, _ids())
    m.add("C0", 0, [], 0)
    assert m.rings == []
    for i in range(10):
        m.add("C%d" % i, 0, [ANNA], i)
    assert [r[0] for r in m.rings] == ["C%d" % i for i in range(2, 10)] and m.dropped == 2
    out = m.due(20)
    assert len(out) == 8 and out[0].start is None  # no wall clock yet: start left out
    old = time.ticks_add(9, missed.MAX_AGE_MS + 1)
    assert m.due(old) == [] and m.rings == [] and m.dropped == 10


def test_the_ticks_counter_wrapping_is_harmless():
    m = missed.MissedRings(DOOR, _ids())
    t0 = time.ticks_add(0, -5000)  # 5 s before the counter wraps
    m.add("C1", 0, [ANNA], t0)
    now = time.ticks_add(t0, 12000)
    out = m.due(now)
    assert [s.ago_s for s in out] == [12]


def test_missed_stanza_round_trips_and_bad_shapes_are_refused():
    m = missed.MissedRings(DOOR, _ids())
    m.add("5D1C0A9B8E7F6A5B4C3D2E1F00112233", 1700000000, [ANNA], 0)
    s = m.due(3000)[0]
    node = wire.decode(wire.encode(s.to_node()))
    back = st.parse(node)
    assert back == s and back.action == "missed" and back.ago_s == 3
    action = node.content[0]
    for attrs in ({"call-id": s.call_id, "call-creator": DOOR, "reason": "no_link"},  # no ago
                  {"call-id": s.call_id, "call-creator": DOOR, "ago": "-1"},
                  {"call-id": s.call_id, "call-creator": DOOR, "ago": "3", "reason": "No Link!"},
                  {"call-creator": DOOR, "ago": "3"}):
        bad = wire.Node("call", dict(node.attrs), [wire.Node(action.tag, attrs, None)])
        assert_raises(st.CallStanzaError, st.parse, bad)
