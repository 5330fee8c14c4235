# The signalling link's timing decisions (docs/protocol.md section 8.3) as a sans-IO object:
# when to ping, when to give up on a silent link, how long to wait before reconnecting, and when
# a link has been down long enough that a call in progress must end. The asyncio edge
# (portier.net.link) reports what happened and asks poll(now_ms) what to do; every time is a
# ticks_ms value compared with ticks_diff (the board's counter wraps).
import os
import time

from micropython import const

PING_IDLE_MS = const(15000)  # send a ping after this long without sending anything
PONG_WAIT_MS = const(10000)  # close when nothing arrives this long after a ping
READY_WAIT_MS = const(10000)  # close when <ready> does not follow <hello> within this
GRACE_MS = const(20000)  # a call survives a link that is back within this
BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(30000)
_JITTER_PCT = const(25)  # each wait is the nominal one +-25 %

# poll() answers
PING = const(1)
CLOSE = const(2)

# link states
DOWN = const(0)
CONNECTING = const(1)  # transport up, <hello> sent, <ready> awaited
READY = const(2)


def _rand16():
    b = os.urandom(2)
    return (b[0] << 8) | b[1]


class LinkTimer:
    """rand16: a function returning a uniform integer in 0..65535 (os.urandom by default)."""

    def __init__(self, now_ms, rand16=None):
        self.state = DOWN
        self._rand16 = rand16 or _rand16
        self._nominal = BACKOFF_MIN_MS  # the next reconnect wait before jitter
        self._since = now_ms  # when the current state began
        self._last_sent = now_ms
        self._ping_at = None  # when the unanswered ping went out, or None
        self._down_since = now_ms  # start of the outage, None while ready
        self._lost_reported = False

    # ---- what the edge reports ----

    def connected(self, now_ms):
        """The transport is up and <hello> has been sent."""
        self.state = CONNECTING
        self._since = now_ms
        self._last_sent = now_ms
        self._ping_at = None

    def ready(self, now_ms):
        self.state = READY
        self._since = now_ms
        self._nominal = BACKOFF_MIN_MS
        self._down_since = None
        self._lost_reported = False

    def sent(self, now_ms):
        self._last_sent = now_ms

    def received(self, now_ms):
        self._ping_at = None  # anything heard answers the ping

    def down(self, now_ms):
        if self._down_since is None:
            self._down_since = now_ms
        self.state = DOWN
        self._since = now_ms
        self._ping_at = None

    # ---- what the edge asks ----

    def poll(self, now_ms):
        """PING (send one now; it counts as sent), CLOSE (drop the link) or None."""
        if self.state == CONNECTING:
            if time.ticks_diff(now_ms, self._since) >= READY_WAIT_MS:
                return CLOSE
            return None
        if self.state != READY:
            return None
        if self._ping_at is not None:
            if time.ticks_diff(now_ms, self._ping_at) >= PONG_WAIT_MS:
                return CLOSE
            return None
        if time.ticks_diff(now_ms, self._last_sent) >= PING_IDLE_MS:
            self._ping_at = now_ms
            self._last_sent = now_ms
            return PING
        return None

    def next_deadline(self):
        """When poll() may next answer something, or None (down: the edge sleeps the backoff)."""
        if self.state == CONNECTING:
            return time.ticks_add(self._since, READY_WAIT_MS)
        if self.state != READY:
            return None
        if self._ping_at is not None:
            return time.ticks_add(self._ping_at, PONG_WAIT_MS)
        return time.ticks_add(self._last_sent, PING_IDLE_MS)

    def backoff_ms(self):
        """The wait before the next connection attempt; each call doubles the next one (up to
        30 s) until ready() resets it."""
        nominal = self._nominal
        self._nominal = min(nominal * 2, BACKOFF_MAX_MS)
        spread = nominal * _JITTER_PCT // 100  # +-25 %
        return nominal - spread + (self._rand16() * 2 * spread) // 65535

    def past_grace(self, now_ms):
        """The link has been down (or never ready) for GRACE_MS or more: the door shows its
        error LED until ready() (docs/protocol.md 8.3)."""
        if self._down_since is None:
            return False
        return self._lost_reported or time.ticks_diff(now_ms, self._down_since) >= GRACE_MS

    def lost(self, now_ms):
        """True once per outage, when the link has been down (or never ready) for GRACE_MS:
        the moment a call in progress ends with connection_lost."""
        if self._down_since is None or self._lost_reported:
            return False
        if time.ticks_diff(now_ms, self._down_since) >= GRACE_MS:
            self._lost_reported = True
            return True
        return False
