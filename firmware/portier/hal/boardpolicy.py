# The board's decisions that are not pin levels, as sans-IO objects the ESP32 HAL feeds with
# ticks_ms values (tested on both runtimes; hal/esp32door.py only carries them out):
#   WlanPolicy      when to (re)connect the Wi-Fi station, when to give up and reset the board,
#                   whether power save may be on (never during a call);
#   WatchdogPolicy  whether the hardware watchdog may be fed: only while every loop that must
#                   keep running (the app's timers, the HAL's own ticker) has shown life lately;
#   hostname_for    the station's DHCP host name, derived from the device's JID.
# Deadlines are ticks_ms values compared with ticks_diff (the counter wraps).
import time

from micropython import const

# WlanPolicy.action() results
NOTHING = const(0)
CONNECT = const(1)  # (re)start a connection attempt: disconnect(), then connect(ssid, key)
RESET = const(2)  # down for too long: reset the board (clears a wedged Wi-Fi driver)

# A connect takes the ESP32 about 1-5 s (association, WPA handshake, DHCP); a new attempt
# aborts the one in progress, so the first retry waits longer than that, then the wait doubles.
_RETRY_MS = const(8000)
_MAX_RETRY_MS = const(60000)
# Down this long without a success: reset. An AP that reboots is back within minutes; a driver
# stuck after a drop (esp-adf #1128, walkie-talkie #42) is not, and a reset is the cure.
_GIVE_UP_MS = const(600000)

_HOSTNAME_MAX = const(32)  # MicroPython's network.hostname() limit on esp32
_HOSTNAME_PREFIX = "portier-"


class PolicyError(ValueError):
    pass


class WlanPolicy:
    """Feed it the station's state every HAL turn: status(connected, now_ms); ask action(now_ms)
    what to do and carry it out; call_active(flag) says whether power save must be off.

    Timeline while down: CONNECT at once (boot) or retry_ms after a drop (the driver reconnects
    on its own first), then retry_ms, 2*retry_ms, ... capped at max_retry_ms after each attempt;
    RESET once the station has been down give_up_ms in a row.
    """

    def __init__(self, now_ms, retry_ms=_RETRY_MS, max_retry_ms=_MAX_RETRY_MS,
                 give_up_ms=_GIVE_UP_MS):
        if not 0 < retry_ms <= max_retry_ms < give_up_ms:
            raise PolicyError("need 0 < retry_ms <= max_retry_ms < give_up_ms")
        self._retry = retry_ms
        self._max_retry = max_retry_ms
        self._give_up = give_up_ms
        self.connected = False
        self.attempts = 0  # since the station was last up
        self.drops = 0
        self._down_since = now_ms
        self._next = now_ms  # the first attempt is due at once
        self._reset_sent = False
        self.in_call = False

    def status(self, connected, now_ms):
        connected = bool(connected)
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            self.attempts = 0
            self._next = None
            self._reset_sent = False
        else:
            self.drops += 1
            self._down_since = now_ms
            self._next = time.ticks_add(now_ms, self._retry)

    def _wait_after(self, attempts):
        wait = self._retry
        for _ in range(1, attempts):  # doubling, without big ints on the board
            if wait >= self._max_retry:
                break
            wait *= 2
        return wait if wait < self._max_retry else self._max_retry

    def action(self, now_ms):
        """NOTHING, CONNECT (counted as an attempt) or RESET (once per outage)."""
        if self.connected:
            return NOTHING
        if not self._reset_sent and time.ticks_diff(now_ms, self._down_since) >= self._give_up:
            self._reset_sent = True
            return RESET
        if time.ticks_diff(now_ms, self._next) < 0:
            return NOTHING
        self.attempts += 1
        self._next = time.ticks_add(now_ms, self._wait_after(self.attempts))
        return CONNECT

    def next_deadline(self):
        """When action() may next say something other than NOTHING (None while up)."""
        if self.connected:
            return None
        give_up = time.ticks_add(self._down_since, self._give_up)
        if self._reset_sent or time.ticks_diff(self._next, give_up) <= 0:
            return self._next
        return give_up

    def call_active(self, flag):
        """A call started (True) or ended (False); returns True when power save must change."""
        flag = bool(flag)
        changed = flag != self.in_call
        self.in_call = flag
        return changed

    @property
    def power_save(self):
        # Power save makes the station sleep between beacons: tens of ms of added latency and
        # bursts of late RTP packets, fine for an idle door, not for a call.
        return not self.in_call


class WatchdogPolicy:
    """The hardware watchdog is fed only while every named loop beat within stale_ms.

    The app's edge loop calls feed() each turn (about every 100 ms), the HAL's ticker beats
    on its own; if either stalls or dies, feeding stops and the watchdog resets the board.
    """

    def __init__(self, loops, stale_ms, now_ms):
        if not loops or stale_ms <= 0:
            raise PolicyError("need loops to watch and stale_ms > 0")
        self._stale = stale_ms
        self._names = tuple(loops)
        # Every loop starts alive: the board is just booting and each needs a turn to start.
        self._beats = [now_ms for _ in self._names]
        self.fed = 0
        self.withheld = 0

    def beat(self, loop, now_ms):
        for i in range(len(self._names)):
            if self._names[i] == loop:
                self._beats[i] = now_ms
                return
        raise PolicyError("unknown loop %r" % (loop,))

    def stalled(self, now_ms):
        """The name of the first loop that missed its beat, or None."""
        for i in range(len(self._names)):
            if time.ticks_diff(now_ms, self._beats[i]) > self._stale:
                return self._names[i]
        return None

    def may_feed(self, now_ms):
        if self.stalled(now_ms) is None:
            self.fed += 1
            return True
        self.withheld += 1
        return False


def hostname_for(jid):
    """portier-<name>-<device> from name:device@household, lower case, [a-z0-9-] only (RFC 1123
    labels), at most 32 characters: the name a router shows in its DHCP table."""
    user = jid.partition("@")[0]
    out = []
    dash = True  # no leading dash, no doubled ones
    for c in user.lower():
        if "a" <= c <= "z" or "0" <= c <= "9":
            out.append(c)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    name = _HOSTNAME_PREFIX + "".join(out)
    name = name[:_HOSTNAME_MAX]
    while name.endswith("-"):
        name = name[:-1]
    return name
