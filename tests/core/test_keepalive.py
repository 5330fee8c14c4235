# The link's timing decisions (docs/protocol.md 8.3): ping after 15 s of send-silence, close 10 s
# after an unanswered ping or a missing <ready>, backoff 1 s doubling to 30 s +-25 %, and the
# 20 s grace after which a call in progress ends. Times are ticks values, wrap included.
import time

from coretest import assert_raises  # noqa: F401  (the suite's helpers load first)
from portier.net import keepalive as ka

def _at(base, ms):
    return time.ticks_add(base, ms)


def _ready_timer(base, rand16=None):
    t = ka.LinkTimer(base, rand16)
    t.connected(base)
    t.ready(base)
    return t


def test_ping_after_send_silence_then_close_without_answer():
    base = 1000
    t = _ready_timer(base)
    assert t.poll(_at(base, 14999)) is None
    assert t.next_deadline() == _at(base, 15000)
    assert t.poll(_at(base, 15000)) == ka.PING
    assert t.poll(_at(base, 15001)) is None  # one ping at a time
    assert t.next_deadline() == _at(base, 25000)
    assert t.poll(_at(base, 24999)) is None
    assert t.poll(_at(base, 25000)) == ka.CLOSE


def test_sending_postpones_the_ping_and_an_answer_clears_it():
    base = 5
    t = _ready_timer(base)
    t.sent(_at(base, 10000))
    assert t.poll(_at(base, 24999)) is None
    assert t.poll(_at(base, 25000)) == ka.PING
    t.received(_at(base, 25100))  # the pong (or anything else)
    assert t.poll(_at(base, 35000)) is None
    assert t.poll(_at(base, 40000)) == ka.PING  # 15 s after the ping, which counted as sent


def test_ready_must_follow_hello_within_bound():
    base = 0
    t = ka.LinkTimer(base)
    t.connected(base)
    assert t.poll(_at(base, 9999)) is None
    assert t.next_deadline() == _at(base, 10000)
    assert t.poll(_at(base, 10000)) == ka.CLOSE
    t.down(_at(base, 10000))
    assert t.poll(_at(base, 50000)) is None
    assert t.next_deadline() is None


def test_deadlines_across_the_ticks_wrap():
    base = time.ticks_add(0, -3000)  # 3 s before the counter wraps (its period per runtime)
    t = _ready_timer(base)
    assert t.next_deadline() == 12000  # wrapped
    assert t.poll(11999) is None
    assert t.poll(12000) == ka.PING
    assert t.poll(22000) == ka.CLOSE


def test_backoff_doubles_to_30s_and_resets_on_ready():
    low = ka.LinkTimer(0, lambda: 0)
    high = ka.LinkTimer(0, lambda: 65535)
    mid = ka.LinkTimer(0, lambda: 32768)
    nominal = [1000, 2000, 4000, 8000, 16000, 30000, 30000]
    for n in nominal:
        assert low.backoff_ms() == n - n // 4
        assert high.backoff_ms() == n + n // 4
        assert abs(mid.backoff_ms() - n) <= 1
    low.connected(0)
    low.ready(0)
    assert low.backoff_ms() == 750


def test_backoff_with_os_random_stays_in_bounds():
    t = ka.LinkTimer(0)
    for n in (1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000):
        w = t.backoff_ms()
        assert n * 3 // 4 <= w <= n * 5 // 4, (n, w)


def test_lost_once_per_outage_after_grace():
    base = 100
    t = _ready_timer(base)
    assert not t.lost(_at(base, 60000))  # up: never lost
    t.down(_at(base, 1000))
    t.down(_at(base, 5000))  # a failed reconnect does not restart the outage
    assert not t.lost(_at(base, 20999))
    assert t.lost(_at(base, 21000))
    assert not t.lost(_at(base, 40000))  # reported once
    t.connected(_at(base, 41000))
    t.ready(_at(base, 41000))
    t.down(_at(base, 50000))
    assert not t.lost(_at(base, 69999))
    assert t.lost(_at(base, 70000))


def test_back_within_grace_is_not_lost():
    base = 0
    t = _ready_timer(base)
    t.down(1000)
    t.connected(19000)
    assert not t.lost(20999)  # connected but not ready yet: still inside the grace
    t.ready(19500)
    assert not t.lost(30000)
    assert t.poll(_at(19000, 14999)) is None  # keepalive counts from the hello
    assert t.poll(_at(19000, 15000)) == ka.PING


def test_never_ready_since_boot_counts_as_down():
    t = ka.LinkTimer(0)
    assert not t.lost(19999)
    assert t.lost(20000)


def test_past_grace_from_the_outage_start_until_ready():
    base = time.ticks_add(0, -5000)  # the outage spans the counter's wrap
    t = _ready_timer(base)
    assert not t.past_grace(_at(base, 60000))  # up: never
    t.down(_at(base, 1000))
    t.down(_at(base, 9000))  # a failed reconnect does not restart the outage
    assert not t.past_grace(_at(base, 20999))
    assert t.past_grace(_at(base, 21000))
    assert t.lost(_at(base, 21000))
    assert t.past_grace(_at(base, 40000))  # still down: still past (lost() reported once)
    t.connected(_at(base, 41000))
    assert t.past_grace(_at(base, 41000))  # connected is not ready
    t.ready(_at(base, 41500))
    assert not t.past_grace(_at(base, 41500))
    t.down(_at(base, 50000))  # a new outage starts its own grace
    assert not t.past_grace(_at(base, 69999))
    assert t.past_grace(_at(base, 70000))


def test_never_ready_since_boot_is_past_grace_after_20s():
    t = ka.LinkTimer(0)
    assert not t.past_grace(19999)
    assert t.past_grace(20000)
