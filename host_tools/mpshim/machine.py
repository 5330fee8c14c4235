"""CPython stand-in for MicroPython's `machine` on an ESP32, for the virtual board.

The objects keep their state here, where the virtual HAL, the simulator and tests can see and
drive it: `drive_pin(id, level)` is the outside world pressing a button, `pin_level(id)` reads
what the firmware put on an output (the door-strike relay), `attach_i2s(id, source=, sink=)`
connects a microphone source or a speaker sink (file-like objects) to an I2S controller.
"""

import os
import sys

_freq_hz = 160_000_000  # stock ESP32_GENERIC boots at the ESP-IDF default
_pins = {}  # id -> Pin
_external = {}  # id -> level driven from outside
_i2s_io = {}  # id -> (source, sink)
_wdts = []


class ResetError(SystemExit):
    """machine.reset() on the host: ends the virtual board's process like a hardware reset."""


def freq(hz=None):
    global _freq_hz
    if hz is None:
        return _freq_hz
    if hz not in (80_000_000, 160_000_000, 240_000_000):
        raise ValueError("frequency must be 80MHz, 160MHz or 240MHz")
    _freq_hz = hz
    return None


def unique_id():
    # Stable per virtual board; a simulator gives each board its own through the environment.
    hexid = os.environ.get("PORTIER_UNIQUE_ID", "240ac4000001")
    return bytes.fromhex(hexid)


def reset():
    raise ResetError(0)


def soft_reset():
    raise ResetError(0)


def reset_cause():
    return PWRON_RESET


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None):  # noqa: A002 - MicroPython's name
        self.id = id
        self._mode = self.IN
        self._pull = None
        self._out = 0
        self._handler = None
        self._trigger = 0
        _pins[id] = self
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None):
        if mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self._out = 1 if value else 0

    def value(self, v=None):
        if v is None:
            return self._level()
        self._out = 1 if v else 0
        return None

    __call__ = value

    def on(self):
        self._out = 1

    def off(self):
        self._out = 0

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING):
        self._handler = handler
        self._trigger = trigger

    def _level(self):
        if self._mode == self.OUT:
            return self._out
        if self.id in _external:
            return _external[self.id]
        return 1 if self._pull == self.PULL_UP else 0

    def _edge(self, old, new):
        if self._handler is None or old == new:
            return
        wanted = self.IRQ_RISING if new else self.IRQ_FALLING
        if self._trigger & wanted:
            self._handler(self)


def drive_pin(pin_id, level):
    """The outside world sets an input's level; fires the pin's IRQ on a matching edge."""
    pin = _pins.get(pin_id)
    old = pin._level() if pin else None
    _external[pin_id] = 1 if level else 0
    if pin is not None:
        pin._edge(old, pin._level())


def pin_level(pin_id):
    """What the firmware drives on an output pin, or None if it never made that pin."""
    pin = _pins.get(pin_id)
    return None if pin is None else pin._level()


def attach_i2s(i2s_id, source=None, sink=None):
    _i2s_io[i2s_id] = (source, sink)


class I2S:
    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1

    def __init__(self, id, **kw):  # noqa: A002 - MicroPython's name
        self.id = id
        self.init(**kw)

    def init(self, *, sck, ws, sd, mode, bits, format, rate, ibuf, mck=None):  # noqa: A002
        if mode not in (self.RX, self.TX):
            raise ValueError("invalid mode")
        if bits not in (16, 32):
            raise ValueError("invalid bits")
        if format not in (self.MONO, self.STEREO):
            raise ValueError("invalid format")
        if ibuf <= 0:
            raise ValueError("invalid ibuf")
        self.mode, self.bits, self.format, self.rate, self.ibuf = mode, bits, format, rate, ibuf
        self._irq = None
        self._open = True

    def readinto(self, buf):
        if self.mode != self.RX or not self._open:
            raise OSError(1)
        source = _i2s_io.get(self.id, (None, None))[0]
        view = memoryview(buf).cast("B")
        n = 0
        if source is not None:
            n = source.readinto(view) or 0
        view[n:] = bytes(len(view) - n)  # a silent microphone reads zeros
        return len(view)

    def write(self, buf):
        if self.mode != self.TX or not self._open:
            raise OSError(1)
        sink = _i2s_io.get(self.id, (None, None))[1]
        if sink is not None:
            sink.write(bytes(buf))
        return len(buf)

    def irq(self, handler):
        self._irq = handler

    def deinit(self):
        # The controller stops; the wires (attach_i2s) stay, as on a board: a shared bus
        # re-opened in the other direction reaches the same microphone and amplifier.
        self._open = False

    @staticmethod
    def shift(*, buf, bits, shift):
        width = bits // 8
        view = memoryview(buf).cast("B")
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        for i in range(0, len(view) - width + 1, width):
            v = int.from_bytes(view[i : i + width], "little", signed=True)
            v = v << shift if shift >= 0 else v >> -shift
            v = ((v - lo) & ((1 << bits) - 1)) + lo  # wraps like the C code's fixed width
            view[i : i + width] = v.to_bytes(width, "little", signed=True)


_timers = {}  # id -> Timer


class Timer:
    """A hardware timer (esp32: ids 0-3). Nothing ticks on the host: fire_timer(id) is time
    passing, so a test decides when a callback runs."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, **kw):  # noqa: A002 - MicroPython's name
        if not 0 <= id <= 3:
            raise ValueError("invalid Timer number")
        self.id = id
        self.mode = self.period = self.callback = None
        _timers[id] = self
        if kw:
            self.init(**kw)

    def init(self, *, mode=PERIODIC, period=-1, freq=-1, callback=None):
        if freq > 0:
            period = 1000 // freq
        if period <= 0:
            raise ValueError("period must be > 0")
        self.mode, self.period, self.callback = mode, period, callback

    def deinit(self):
        self.callback = None


def timer(timer_id):
    """The Timer the firmware made with this id, or None."""
    return _timers.get(timer_id)


def fire_timer(timer_id):
    """One period of the timer elapses: its callback runs (a one-shot timer is then spent)."""
    t = _timers[timer_id]
    cb = t.callback
    if cb is None:
        return False
    if t.mode == Timer.ONE_SHOT:
        t.callback = None
    cb(t)
    return True


class WDT:
    def __init__(self, id=0, timeout=5000):  # noqa: A002 - MicroPython's name
        import time

        self._clock = time.monotonic
        self.timeout_ms = timeout
        self._fed = self._clock()
        _wdts.append(self)

    def feed(self):
        self._fed = self._clock()

    def expired(self):
        return (self._clock() - self._fed) * 1000 > self.timeout_ms


def wdt_expired():
    """True when any watchdog was not fed in time: on a board that is a reset."""
    return any(w.expired() for w in _wdts)


sys.modules.setdefault("umachine", sys.modules[__name__])
