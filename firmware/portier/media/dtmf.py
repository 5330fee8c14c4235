# RFC 4733 telephone-event payloads (DTMF) on an RTP stream of rtp.RtpSender: the payload
# fields, a sender of one event at a time and a receiver that reports each event once.
from micropython import const

from .rtp import HEADER_LEN, RtpError

EVENT_LEN = const(4)
DTMF_DIGITS = "0123456789*#ABCD"  # RFC 4733 §3.2 event codes 0..15, in order


def event_into(buf, off, event, end, volume, duration):
    """The 4-byte event payload: event code, E bit, volume (0..63 = -dBm0), duration (units)."""
    if not 0 <= event <= 255 or not 0 <= volume <= 63 or not 0 <= duration <= 0xFFFF:
        raise RtpError("bad telephone-event field")
    buf[off] = event
    buf[off + 1] = (0x80 if end else 0) | volume
    buf[off + 2] = duration >> 8
    buf[off + 3] = duration & 0xFF
    return EVENT_LEN


def parse_event(buf, off, n):
    """(event, end, volume, duration) of a telephone-event payload of n bytes at buf[off]."""
    if n < EVENT_LEN:
        raise RtpError("telephone-event payload of %d bytes" % n)
    return buf[off], bool(buf[off + 1] & 0x80), buf[off + 1] & 0x3F, (buf[off + 2] << 8) | buf[off + 3]


_END_REPEATS = const(3)  # RFC 4733 §2.5.1.4: the final packet is sent three times


class DtmfSender:
    """RFC 4733 sender for one event at a time, one packet per audio frame tick.

    start() freezes the event's timestamp at the stream's current media time; each
    packet_into() until done writes the next packet: the first with the marker bit, then
    updates with a growing duration, then the end packet three times. The media loop sends
    these instead of audio while active() and keeps calling sender.advance(samples).
    """

    def __init__(self, sender, pt, samples_per_frame):
        self._rtp = sender
        self._pt = pt
        self._step = samples_per_frame
        self._event = -1
        self._duration = 0
        self._total = 0
        self._ends_left = 0
        self._first = False
        self._ts_hi = 0
        self._ts_lo = 0
        self.volume = 10

    def start(self, digit, duration_samples):
        if isinstance(digit, str):
            event = DTMF_DIGITS.find(digit) if len(digit) == 1 else -1
        else:
            event = digit
        if not 0 <= event <= 255:
            raise RtpError("not a DTMF digit: %r" % (digit,))
        if self.active():
            raise RtpError("an event is already being sent")
        self._event = event
        self._total = max(self._step, min(duration_samples, 0xFFFF))
        self._duration = 0
        self._ends_left = _END_REPEATS
        self._first = True
        self._ts_hi, self._ts_lo = self._rtp._ts_hi, self._rtp._ts_lo

    def active(self):
        return self._event >= 0

    def packet_into(self, buf):
        """Next event packet into buf; returns its length (0 when no event is active)."""
        if self._event < 0:
            return 0
        self._duration = min(self._duration + self._step, self._total)
        end = self._duration >= self._total
        self._rtp.header_at_into(buf, self._pt, self._first, self._ts_hi, self._ts_lo)
        self._first = False
        event_into(buf, HEADER_LEN, self._event, end, self.volume, self._duration)
        self._rtp.advance(self._step)
        if end:
            self._ends_left -= 1
            if self._ends_left == 0:
                self._event = -1
        return HEADER_LEN + EVENT_LEN


class DtmfReceiver:
    """Reports each RFC 4733 event once, however many of its packets arrive (or are repeated)."""

    def __init__(self):
        self._last_hi = -1  # the last event's timestamp as 16-bit halves (no long int)
        self._last_lo = -1
        self.events = 0

    def feed(self, pkt, buf):
        """pkt: RtpPacket already parsed from buf; returns the digit (str) once per event, or None."""
        event, end, _vol, _dur = parse_event(buf, pkt.payload_off, pkt.payload_len)
        if pkt.ts_hi == self._last_hi and pkt.ts_lo == self._last_lo:
            return None  # an update or repeated end packet of the event already reported
        self._last_hi = pkt.ts_hi
        self._last_lo = pkt.ts_lo
        self.events += 1
        if event < len(DTMF_DIGITS):
            return DTMF_DIGITS[event]
        return "?"  # a non-DTMF event (RFC 4733 §3.2 tones) reported as unknown
