# Rings the door could not place (docs/protocol.md 8.3, "missed rings"): a press while the
# switchboard is unreachable rings nobody, so the door keeps it (bounded) and, once the link is
# back, tells every device that was paired at the time with a <missed> stanza; each device's
# copy is sent again until that device acks it. Sans-IO: the caller gives ticks_ms and wall
# seconds, sends the stanzas due() returns and reports acks.
from micropython import const

from portier.signaling import stanzas as st

_MAX_RINGS = const(8)  # kept at once; a ninth press drops the oldest (the call log keeps all)
RESEND_MS = const(60000)  # an unacked copy goes again this long after the last send
MAX_AGE_MS = const(86400000)  # a day: after that a ring is old news, dropped unannounced
REASON = "no_link"
# one ring: [call-id, wall start (0: unknown), ticks_ms of the press, [[device, stanza id,
# ticks_ms of the next send], ...]]
_R_ID = const(0)
_R_START = const(1)
_R_TICKS = const(2)
_R_DEVS = const(3)


class MissedRings:
    def __init__(self, me, new_id):
        self.me = me
        self._new_id = new_id
        self.rings = []
        self.dropped = 0  # rings pushed out by newer ones or grown too old, never announced

    def add(self, call_id, start, devices, now_ms):
        """A press that rang nobody: tell `devices` (the paired devices then) later."""
        if not devices:
            return
        if len(self.rings) >= _MAX_RINGS:
            self.rings.pop(0)
            self.dropped += 1
        self.rings.append([call_id, start, now_ms, [[d, self._new_id(), now_ms] for d in devices]])

    def relinked(self, now_ms):
        """The link is ready again: every unacked copy is due at once."""
        for ring in self.rings:
            for dev in ring[_R_DEVS]:
                dev[2] = now_ms

    def due(self, now_ms):
        """The <missed> stanzas to send now (their next send is then RESEND_MS later)."""
        import time

        out = []
        for ring in list(self.rings):
            age = time.ticks_diff(now_ms, ring[_R_TICKS])
            if age > MAX_AGE_MS:
                self.rings.remove(ring)
                self.dropped += 1
                continue
            for dev in ring[_R_DEVS]:
                if time.ticks_diff(now_ms, dev[2]) >= 0:
                    dev[2] = time.ticks_add(now_ms, RESEND_MS)
                    out.append(st.Stanza("missed", call_id=ring[_R_ID], call_creator=self.me,
                                         reason=REASON, ago_s=max(0, age) // 1000,
                                         start=ring[_R_START] or None, to=dev[0],
                                         stanza_id=dev[1]))
        return out

    def acked(self, stanza_id):
        """A device's ack: its copy is done. -> (call-id, device) it acked, or None."""
        for ring in self.rings:
            devs = ring[_R_DEVS]
            for dev in devs:
                if dev[1] == stanza_id:
                    devs.remove(dev)
                    if not devs:
                        self.rings.remove(ring)
                    return ring[_R_ID], dev[0]
        return None

    def pending(self):
        """How many device copies still wait for their ack."""
        return sum(len(r[_R_DEVS]) for r in self.rings)
