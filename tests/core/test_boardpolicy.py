# The board's Wi-Fi, watchdog and host-name decisions (portier.hal.boardpolicy), on both
# runtimes, across the ticks_ms wrap.
import time

from coretest import assert_raises
from portier.hal.boardpolicy import (
    CONNECT,
    NOTHING,
    RESET,
    PolicyError,
    WatchdogPolicy,
    WlanPolicy,
    hostname_for,
)

_WRAP = time.ticks_add(0, -700)  # 700 ms before the counter wraps


def _t(base, ms):
    return time.ticks_add(base, ms)


def _connects(p, base, start, stop, step=100):
    """Offsets in [start, stop) at which action() says CONNECT, polling every step ms."""
    out = []
    for off in range(start, stop, step):
        act = p.action(_t(base, off))
        assert act != RESET, off
        if act == CONNECT:
            out.append(off)
    return out


def test_boot_connects_at_once_then_backs_off_doubling_to_the_cap():
    for base in (0, _WRAP):
        p = WlanPolicy(_t(base, 0), retry_ms=1000, max_retry_ms=8000, give_up_ms=600000)
        assert p.next_deadline() == _t(base, 0)
        got = _connects(p, base, 0, 40000)
        # 0, then waits of 1, 2, 4, 8, 8, 8 ... s after each attempt
        assert got == [0, 1000, 3000, 7000, 15000, 23000, 31000, 39000], got
        assert p.attempts == 8 and not p.connected


def test_up_stops_attempts_and_a_drop_waits_for_the_driver_first():
    for base in (0, _WRAP):
        p = WlanPolicy(_t(base, 0), retry_ms=1000, max_retry_ms=4000, give_up_ms=60000)
        assert p.action(_t(base, 0)) == CONNECT
        p.status(True, _t(base, 2500))
        assert p.connected and p.attempts == 0 and p.next_deadline() is None
        assert _connects(p, base, 2500, 30000) == []
        p.status(False, _t(base, 30000))
        assert p.drops == 1
        assert p.action(_t(base, 30000)) == NOTHING  # the driver's own reconnect goes first
        assert p.next_deadline() == _t(base, 31000)
        assert _connects(p, base, 30000, 38000) == [31000, 32000, 34000]
        p.status(True, _t(base, 38000))
        p.status(False, _t(base, 50000))  # a second drop starts the backoff over
        assert _connects(p, base, 50000, 53100) == [51000, 52000]


def test_down_too_long_resets_once():
    for base in (0, _WRAP):
        p = WlanPolicy(_t(base, 0), retry_ms=1000, max_retry_ms=5000, give_up_ms=20000)
        acts = []
        for off in range(0, 40000, 250):
            a = p.action(_t(base, off))
            if a != NOTHING:
                acts.append((off, a))
        resets = [off for off, a in acts if a == RESET]
        assert resets == [20000], acts
        # attempts go on after the reset request (the reset may fail to happen on a host)
        assert [off for off, a in acts if a == CONNECT][-1] > 20000
        # the deadline names the reset while it is nearer than the next attempt
        q = WlanPolicy(_t(base, 0), retry_ms=1000, max_retry_ms=5000, give_up_ms=20000)
        for off in range(0, 19000, 250):
            q.action(_t(base, off))
        assert q.next_deadline() == _t(base, 20000)


def test_up_in_time_never_resets():
    p = WlanPolicy(0, retry_ms=1000, max_retry_ms=5000, give_up_ms=20000)
    for off in range(0, 19000, 500):
        assert p.action(off) != RESET
    p.status(True, 19000)
    p.status(False, 30000)
    for off in range(30000, 49500, 500):
        assert p.action(off) != RESET, off  # the outage clock restarted at the drop
    assert p.action(50000) == RESET


def test_power_save_is_off_exactly_during_calls():
    p = WlanPolicy(0)
    assert p.power_save and not p.in_call
    assert p.call_active(True) is True and not p.power_save
    assert p.call_active(True) is False  # no change, nothing to reconfigure
    assert p.call_active(False) is True and p.power_save
    assert p.call_active(0) is False


def test_bad_timings_are_refused():
    assert_raises(PolicyError, WlanPolicy, 0, 0)
    assert_raises(PolicyError, WlanPolicy, 0, 5000, 1000)
    assert_raises(PolicyError, WlanPolicy, 0, 1000, 5000, 5000)
    assert_raises(PolicyError, WatchdogPolicy, (), 100, 0)
    assert_raises(PolicyError, WatchdogPolicy, ("app",), 0, 0)


def test_watchdog_fed_only_while_every_loop_beats():
    for base in (0, _WRAP):
        w = WatchdogPolicy(("app", "hal"), 1000, _t(base, 0))
        assert w.may_feed(_t(base, 1000))  # both count as alive at boot
        now = 0
        while now < 5000:  # both loops running
            now += 100
            w.beat("app", _t(base, now))
            w.beat("hal", _t(base, now))
            assert w.may_feed(_t(base, now))
        # the HAL's ticker stops; the app still calls feed() every 100 ms
        fed_until = None
        while now < 8000:
            now += 100
            w.beat("app", _t(base, now))
            if w.may_feed(_t(base, now)):
                fed_until = now
        assert fed_until == 6000 and w.stalled(_t(base, now)) == "hal"
        w.beat("hal", _t(base, now))
        assert w.may_feed(_t(base, now)) and w.stalled(_t(base, now)) is None
        # the app's loop hangs: nothing calls feed() and the HAL alone cannot feed
        assert not w.may_feed(_t(base, now + 1001))
        assert w.stalled(_t(base, now + 1001)) == "app"
        assert_raises(PolicyError, w.beat, "media", _t(base, now))


def test_hostname_from_jid():
    assert hostname_for("door:1@home") == "portier-door-1"
    assert hostname_for("Front_Door:12@flat.example") == "portier-front-door-12"
    assert hostname_for("--x..y:3@h") == "portier-x-y-3"
    long_name = hostname_for("a" * 60 + ":1@h")
    assert long_name == "portier-" + "a" * 24 and len(long_name) == 32
    assert hostname_for("abcdefghijklmnopqrstuvw-:1@h") == "portier-abcdefghijklmnopqrstuvw"
    for jid in ("door:1@home", "Front_Door:12@flat.example", "\u00e9t\u00e9:2@h"):
        name = hostname_for(jid)
        assert 0 < len(name) <= 32 and not name.endswith("-")
        for c in name:
            assert "a" <= c <= "z" or "0" <= c <= "9" or c == "-", (jid, name)


def test_an_idle_ticker_turn_allocates_nothing():
    # The HAL's ticker runs every 50 ms for the life of the board: its decisions must not feed
    # the garbage collector. Under MicroPython any allocation in heap_lock raises MemoryError.
    import micropython

    from portier.hal.controls import LED_RINGING, Button, Led, Relay

    now = 1000
    led, relay, button = Led(), Relay(), Button(idle_level=1)
    led.set(LED_RINGING, now)
    relay.pulse(now, 3000)
    wifi = WlanPolicy(now, retry_ms=100, max_retry_ms=400, give_up_ms=100000)
    dog = WatchdogPolicy(("app", "hal"), 1000, now)
    seen = [0, 0, 0]  # relay releases, LED changes, connect attempts
    last_led = led.level()
    micropython.heap_lock()
    try:
        for _ in range(400):  # 20 s of turns
            now += 50
            dog.beat("hal", now)
            dog.beat("app", now)
            if not dog.may_feed(now):
                raise AssertionError("withheld")
            if relay.energised and relay.on_timer(now) == 0:
                seen[0] += 1
            lv = led.on_timer(now)
            if lv != last_led:
                seen[1] += 1
                last_led = lv
            if not button.settling:
                button.on_timer(now)
            if button.has_events:
                raise AssertionError("no edge, no event")
            wifi.status(False, now)
            if wifi.action(now) == CONNECT:
                seen[2] += 1
            relay.next_deadline()
            led.next_deadline()
            wifi.next_deadline()
    finally:
        micropython.heap_unlock()
    assert seen[0] == 1 and seen[1] >= 70 and seen[2] >= 40, seen
