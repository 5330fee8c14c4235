# Door controls (portier.hal.controls): button debounce and long press, relay pulse, LED patterns.
import time

from coretest import assert_raises
from portier.hal.controls import (
    LED_CONNECTING,
    LED_ERROR,
    LED_IDLE,
    LED_IN_CALL,
    LED_OFF,
    LED_RINGING,
    LONG_PRESS,
    PRESS,
    RELEASE,
    Button,
    ControlsError,
    Led,
    Relay,
    pattern_of,
)

_WRAP = time.ticks_add(0, -700)  # 700 ms before the counter wraps, whatever its period here


def _t(base, ms):
    return time.ticks_add(base, ms)


def _run(ctrl, until, base):
    """Call on_timer at every deadline up to base+until, as the edge's task would."""
    while True:
        d = ctrl.next_deadline()
        if d is None or time.ticks_diff(d, _t(base, until)) > 0:
            return
        ctrl.on_timer(d)


def _press_with_bounce(b, base, at, levels_ms):
    # levels_ms: (level, offset) edges as a bouncing contact produces them
    for level, off in levels_ms:
        b.edge(level, _t(base, at + off))


def test_button_bounces_become_one_press_and_one_release():
    for base in (0, _WRAP):
        b = Button(active_level=0, debounce_ms=30, long_press_ms=2000)
        _press_with_bounce(b, base, 100, ((0, 0), (1, 2), (0, 3), (1, 7), (0, 9)))
        assert b.pending() == []  # still settling
        assert b.next_deadline() == _t(base, 139)
        b.on_timer(_t(base, 138))
        assert b.pending() == []
        assert not b.has_events
        b.on_timer(_t(base, 139))
        assert b.has_events
        assert b.pending() == [PRESS] and b.pressed and not b.has_events
        _press_with_bounce(b, base, 400, ((1, 0), (0, 4), (1, 6)))
        _run(b, 1000, base)
        assert b.pending() == [RELEASE] and not b.pressed


def test_button_glitch_shorter_than_debounce_is_ignored():
    b = Button(active_level=0, debounce_ms=30)
    b.edge(0, 1000)
    b.edge(1, 1020)  # 20 ms: noise on a long wire, not a press
    _run(b, 5000, 0)
    assert b.pending() == [] and not b.pressed


def test_button_long_press_fires_once_while_held():
    for base in (0, _WRAP):
        b = Button(active_level=0, debounce_ms=30, long_press_ms=2000)
        b.edge(0, _t(base, 0))
        _run(b, 1999, base)
        assert b.pending() == [PRESS]
        _run(b, 2000, base)  # measured from the edge that started the press
        assert b.pending() == [LONG_PRESS]
        _run(b, 9000, base)
        assert b.pending() == []
        b.edge(1, _t(base, 9000))
        _run(b, 9100, base)
        assert b.pending() == [RELEASE]
        assert b.next_deadline() is None


def test_button_edges_without_timer_calls_still_count_in_order():
    # An edge task that only wakes on edges still sees a settled press before the release.
    b = Button(active_level=1, debounce_ms=30, long_press_ms=2000)
    b.edge(1, 0)
    b.edge(0, 500)
    b.on_timer(600)
    assert b.pending() == [PRESS, RELEASE]


def test_button_held_at_boot_is_not_a_ring():
    b = Button(active_level=0, idle_level=0)
    assert b.pressed
    b.on_timer(10000)
    assert b.pending() == []
    b.edge(1, 10000)
    _run(b, 10100, 0)
    assert b.pending() == [RELEASE]


def test_button_rejects_bad_settings():
    assert_raises(ControlsError, Button, 2)
    assert_raises(ControlsError, Button, 0, None, 50, 40)


def test_relay_is_off_at_boot_for_both_active_levels():
    assert Relay(active_level=1).boot_level() == 0
    assert Relay(active_level=0).boot_level() == 1
    r = Relay(active_level=0)
    assert r.level() == 1 and not r.energised and r.next_deadline() is None


def test_relay_pulse_energises_then_de_energises():
    for base in (0, _WRAP):
        r = Relay(active_level=1)
        assert r.pulse(_t(base, 10), 3000) == 1
        assert r.energised and r.next_deadline() == _t(base, 3010)
        assert r.on_timer(_t(base, 3009)) == 1
        assert r.on_timer(_t(base, 3010)) == 0
        assert not r.energised and r.next_deadline() is None and r.pulses == 1


def test_relay_repeated_pulses_never_exceed_the_cap():
    r = Relay(active_level=0, max_pulse_ms=10000)
    assert r.pulse(0, 3000) == 0  # active low: energised is 0
    for now in range(2000, 20000, 2000):  # a stuck sender re-triggering every 2 s
        r.on_timer(now)
        if r.energised:
            r.pulse(now, 3000)
    assert not r.energised
    assert r.pulses == 1
    r2 = Relay(max_pulse_ms=10000)
    r2.pulse(0, 3000)
    r2.pulse(9000, 3000)
    assert r2.next_deadline() == 10000  # capped at start + max
    assert r2.on_timer(10000) == 0


def test_relay_release_and_bad_pulses():
    r = Relay()
    assert_raises(ControlsError, r.pulse, 0, 0)
    assert_raises(ControlsError, r.pulse, 0, 60000)
    assert not r.energised  # a refused pulse changes nothing
    r.pulse(0, 1000)
    assert r.release() == 0 and not r.energised


def _expected_on(steps, since_ms):
    """Reference: is the LED on since_ms after the state was set (independent of Led)."""
    if len(steps) == 1:
        return steps[0] != 0
    t = since_ms % sum(steps)
    i = 0
    while t >= steps[i]:
        t -= steps[i]
        i += 1
    return i % 2 == 0


def test_led_patterns_have_the_documented_rhythm():
    assert pattern_of(LED_OFF) == (0,)
    assert pattern_of(LED_IN_CALL) == (1,)
    assert sum(pattern_of(LED_IDLE)) == 3000
    assert pattern_of(LED_CONNECTING) == (250, 250)
    assert sum(pattern_of(LED_RINGING)) == 1000 and len(pattern_of(LED_RINGING)) == 4
    assert len(pattern_of(LED_ERROR)) == 6
    for state in (LED_OFF, LED_IDLE, LED_CONNECTING, LED_RINGING, LED_IN_CALL, LED_ERROR):
        assert len(pattern_of(state)) % 2 == 0 or len(pattern_of(state)) == 1


def test_led_follows_each_pattern_at_its_deadlines():
    for base in (0, _WRAP):
        for state in (LED_IDLE, LED_CONNECTING, LED_RINGING, LED_ERROR):
            led = Led(active_level=1)
            led.set(state, _t(base, 0))
            assert led.is_on
            since = 0
            while since < 4500:
                d = led.next_deadline()
                since = time.ticks_diff(d, base)
                led.on_timer(d)
                assert led.is_on == _expected_on(pattern_of(state), since), (state, since)


def test_led_late_timer_resumes_in_phase():
    steps = pattern_of(LED_RINGING)
    led = Led()
    led.set(LED_RINGING, 0)
    for now in (130, 7250, 7390, 20000, 20125, 33333):
        led.on_timer(now)
        assert led.is_on == _expected_on(steps, now), now
        # the next change lands where the pattern says
        d = led.next_deadline()
        assert _expected_on(steps, d) != led.is_on and _expected_on(steps, d - 1) == led.is_on


def test_led_steady_states_and_active_low():
    led = Led(active_level=0)
    assert led.level() == 1  # off at boot
    assert led.set(LED_IN_CALL, 5) == 0 and led.next_deadline() is None
    assert led.set(LED_OFF, 6) == 1
    led.set(LED_CONNECTING, 100)
    led.set(LED_CONNECTING, 220)  # same state again: the rhythm is not restarted
    assert led.next_deadline() == 350
    assert_raises(ControlsError, led.set, 99, 0)
    assert led.state == LED_CONNECTING


def test_button_restart_debounce_after_unseen_edges():
    # An edge-triggered reader wakes at the debounce deadline, saw IRQs meanwhile but reads the
    # level it read before: the contact is still bouncing, so the change must hold again.
    b = Button(active_level=0, debounce_ms=30)
    b.edge(0, 100)
    b.restart_debounce(130)
    b.edge(0, 130)
    assert b.pending() == [] and b.settling and b.next_deadline() == 160
    b.on_timer(160)
    assert b.pending() == [PRESS] and not b.settling
    b.restart_debounce(500)  # nothing settling: a glitch that came back is no change
    b.edge(0, 500)
    assert b.next_deadline() == 2130 and b.pending() == []  # the long press deadline stays
