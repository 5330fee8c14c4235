# The door's controls as sans-IO state machines: doorbell button (debounce, long press),
# door-strike relay (bounded pulse, off at boot), status LED (on/off patterns).
# The board HAL feeds pin levels and ticks_ms values in and writes the levels these return to
# machine.Pin; the virtual HAL and the simulator do the same, so all timing logic is tested here.
# Deadlines are ticks_ms values, compared with ticks_diff (the counter wraps).
import time

from micropython import const

# Button events, as returned by Button.pending()
PRESS = const(1)
RELEASE = const(2)
LONG_PRESS = const(3)

# LED states
LED_OFF = const(0)
LED_IDLE = const(1)
LED_CONNECTING = const(2)
LED_RINGING = const(3)
LED_IN_CALL = const(4)
LED_ERROR = const(5)

_DEBOUNCE_MS = const(30)  # contact bounce of a push button settles within a few ms; 30 is safe
_LONG_PRESS_MS = const(2000)
_PULSE_MS = const(3000)
_MAX_PULSE_MS = const(15000)  # no command, however repeated, holds the strike longer than this


class ControlsError(ValueError):
    pass


class Button:
    """Debounces raw pin levels into PRESS / RELEASE / LONG_PRESS events.

    The edge: an IRQ on both edges sets a ThreadSafeFlag; the task woken by it calls
    edge(pin.value(), now) and, at next_deadline(), on_timer(now). A level change counts only
    once it has held for debounce_ms with no further edge.
    """

    def __init__(self, active_level=0, idle_level=None, debounce_ms=_DEBOUNCE_MS,
                 long_press_ms=_LONG_PRESS_MS):
        if active_level not in (0, 1):
            raise ControlsError("active level must be 0 or 1")
        if debounce_ms <= 0 or long_press_ms <= debounce_ms:
            raise ControlsError("need 0 < debounce_ms < long_press_ms")
        self._active = active_level
        self._debounce = debounce_ms
        self._long = long_press_ms
        # A button held down at boot is not a ring: the first press needs a release first.
        self._stable = False if idle_level is None else idle_level == active_level
        self._raw = self._stable
        self._raw_at = 0
        self._pressed_at = 0
        self._long_sent = True
        self._out = []

    @property
    def pressed(self):
        return self._stable

    @property
    def settling(self):
        """A level change is waiting out its debounce time (next_deadline() is its end)."""
        return self._raw != self._stable

    def edge(self, level, now_ms):
        self.on_timer(now_ms)  # a change that had settled before this edge counts first
        pressed = level == self._active
        if pressed != self._raw:
            self._raw = pressed
            self._raw_at = now_ms

    def restart_debounce(self, now_ms):
        """The contact moved and came back since the last edge() (an edge-triggered reader saw
        IRQs but reads the same level): a change still settling must now hold debounce_ms
        from now_ms. Call it before edge()."""
        if self._raw != self._stable:
            self._raw_at = now_ms

    def on_timer(self, now_ms):
        if self._raw != self._stable and time.ticks_diff(now_ms, self._raw_at) >= self._debounce:
            self._stable = self._raw
            if self._stable:
                self._pressed_at = self._raw_at
                self._long_sent = False
                self._out.append(PRESS)
            else:
                self._out.append(RELEASE)
        if self._stable and not self._long_sent and time.ticks_diff(now_ms, self._pressed_at) >= self._long:
            self._long_sent = True
            self._out.append(LONG_PRESS)

    def next_deadline(self):
        if self._raw != self._stable:
            return time.ticks_add(self._raw_at, self._debounce)
        if self._stable and not self._long_sent:
            return time.ticks_add(self._pressed_at, self._long)
        return None

    def pending(self):
        out, self._out = self._out, []
        return out

    @property
    def has_events(self):
        """pending() would return something (asking this allocates nothing; pending() does)."""
        return len(self._out) > 0


class Relay:
    """The door strike: energised only for a bounded pulse, de-energised at boot and after it.

    level() is what the pin must carry now; the HAL writes boot_level() before anything else
    runs, so a reset in the middle of a pulse leaves the door locked.
    """

    def __init__(self, active_level=1, max_pulse_ms=_MAX_PULSE_MS):
        if active_level not in (0, 1):
            raise ControlsError("active level must be 0 or 1")
        self._active = active_level
        self._max = max_pulse_ms
        self._on = False
        self._started = 0
        self._until = 0
        self.pulses = 0

    def boot_level(self):
        return 1 - self._active

    @property
    def energised(self):
        return self._on

    def level(self):
        return self._active if self._on else 1 - self._active

    def pulse(self, now_ms, ms=_PULSE_MS):
        """Energise for ms (a repeat while on extends it, never past max_pulse_ms in all)."""
        if ms <= 0 or ms > self._max:
            raise ControlsError("pulse of %d ms outside 1..%d" % (ms, self._max))
        if not self._on:
            self._on = True
            self._started = now_ms
            self.pulses += 1
        cap = time.ticks_add(self._started, self._max)
        until = time.ticks_add(now_ms, ms)
        self._until = until if time.ticks_diff(cap, until) >= 0 else cap
        return self.level()

    def on_timer(self, now_ms):
        if self._on and time.ticks_diff(now_ms, self._until) >= 0:
            self._on = False
        return self.level()

    def release(self):
        self._on = False
        return self.level()

    def next_deadline(self):
        return self._until if self._on else None


# On/off durations in ms, starting with "on", repeated; (0,) is steady off, (1,) steady on.
_PATTERNS = {
    LED_OFF: (0,),
    LED_IDLE: (40, 2960),  # a short heartbeat every 3 s
    LED_CONNECTING: (250, 250),  # 2 Hz while Wi-Fi or the switchboard link comes up
    LED_RINGING: (120, 120, 120, 640),  # double blink while the household is rung
    LED_IN_CALL: (1,),
    LED_ERROR: (100, 100, 100, 100, 100, 900),  # three fast blinks, pause
}


def pattern_of(state):
    """The on/off durations of a state (tests and the simulator show them)."""
    return _PATTERNS[state]


class Led:
    """Plays the pattern of the current state; level() is the pin level to write."""

    def __init__(self, active_level=1):
        if active_level not in (0, 1):
            raise ControlsError("active level must be 0 or 1")
        self._active = active_level
        self.state = LED_OFF
        self._steps = _PATTERNS[LED_OFF]
        self._i = 0
        self._next = None

    def set(self, state, now_ms):
        steps = _PATTERNS.get(state)
        if steps is None:
            raise ControlsError("unknown LED state %r" % (state,))
        if state == self.state:
            return self.level()  # keep the rhythm: re-setting the same state does not restart it
        self.state = state
        self._steps = steps
        self._i = 0
        self._next = None if len(steps) == 1 else time.ticks_add(now_ms, steps[0])
        return self.level()

    @property
    def is_on(self):
        steps = self._steps
        if len(steps) == 1:
            return steps[0] != 0
        return self._i % 2 == 0

    def level(self):
        return self._active if self.is_on else 1 - self._active

    def on_timer(self, now_ms):
        steps = self._steps
        if self._next is None:
            return self.level()
        late = time.ticks_diff(now_ms, self._next)
        if late >= 0:
            cycle = 0
            for d in steps:
                cycle += d
            late %= cycle  # a caller that slept through whole cycles resumes in phase
            self._i = (self._i + 1) % len(steps)
            while late >= steps[self._i]:
                late -= steps[self._i]
                self._i = (self._i + 1) % len(steps)
            self._next = time.ticks_add(now_ms, steps[self._i] - late)
        return self.level()

    def next_deadline(self):
        return self._next
