# RTP (RFC 3550) headers. RFC 4733 telephone-event payloads: dtmf.py (a call's media path
# never loads them, so a board does not hold their code through every call).
#
# Send path: RtpSender writes a 12-byte header into the caller's packet buffer and advances
# sequence number and timestamp without allocating. Timestamp and SSRC are 32-bit values, and on
# MicroPython an int above 2**30 is a heap object, so the sender keeps them as 16-bit halves.
# Receive path: RtpPacket.parse_into() checks every length before it touches its fields and
# leaves them unchanged on failure. It keeps timestamp and SSRC as 16-bit halves too (ts_hi,
# ts_lo, ssrc_hi, ssrc_lo), so parsing allocates nothing; .ts and .ssrc build the whole value
# when asked (a long int on a 32-bit board: host tools and tests, not the frame path).
import struct

from micropython import const

VERSION = const(2)
HEADER_LEN = const(12)
MAX_PACKET = const(1500)  # one Ethernet MTU; an RTP packet larger than that is refused
MAX_CSRC = const(15)

# Payload types (docs/protocol.md §6). 0 and 8 are RFC 3551 static; the rest are Portier's
# fixed choices from the dynamic range, the same in every call.
PT_PCMU = const(0)
PT_PCMA = const(8)
PT_L16 = const(96)  # L16/16000/1
PT_EVENT_8K = const(101)  # telephone-event/8000 (with PCMU/PCMA)
PT_EVENT_16K = const(102)  # telephone-event/16000 (with L16)

# Audio payload type -> (encoding name, clock rate, payload bytes per sample, the
# telephone-event payload type that goes with it). Frame = 20 ms (docs/protocol.md §6.2).
AUDIO_PT = {
    PT_PCMU: ("PCMU", 8000, 1, PT_EVENT_8K),
    PT_PCMA: ("PCMA", 8000, 1, PT_EVENT_8K),
    PT_L16: ("L16", 16000, 2, PT_EVENT_16K),
}


class RtpError(ValueError):
    pass


class RtpSender:
    """One outgoing RTP stream: SSRC fixed, sequence and timestamp advanced per packet."""

    def __init__(self, ssrc, seq, ts):
        self._ssrc_hi = (ssrc >> 16) & 0xFFFF
        self._ssrc_lo = ssrc & 0xFFFF
        self.seq = seq & 0xFFFF
        self._ts_hi = (ts >> 16) & 0xFFFF
        self._ts_lo = ts & 0xFFFF

    def timestamp(self):
        """The timestamp of the next audio packet (may allocate on MicroPython: not per frame)."""
        return (self._ts_hi << 16) | self._ts_lo

    def audio_into(self, buf, pt, marker, samples):
        """Header of the next audio packet into buf[0:12]; then seq += 1, ts += samples."""
        _put(buf, marker, pt, self.seq, self._ts_hi, self._ts_lo, self._ssrc_hi, self._ssrc_lo)
        self.seq = (self.seq + 1) & 0xFFFF
        self.advance(samples)
        return HEADER_LEN

    def advance(self, samples):
        """Move the media clock on without sending (e.g. the frames a DTMF event replaced)."""
        lo = self._ts_lo + samples
        self._ts_hi = (self._ts_hi + (lo >> 16)) & 0xFFFF
        self._ts_lo = lo & 0xFFFF

    def header_at_into(self, buf, pt, marker, ts_hi, ts_lo):
        """Header with an explicit timestamp (a telephone event keeps its start time)."""
        _put(buf, marker, pt, self.seq, ts_hi, ts_lo, self._ssrc_hi, self._ssrc_lo)
        self.seq = (self.seq + 1) & 0xFFFF
        return HEADER_LEN


def _put(buf, marker, pt, seq, ts_hi, ts_lo, ssrc_hi, ssrc_lo):
    buf[0] = VERSION << 6
    buf[1] = (0x80 if marker else 0) | (pt & 0x7F)
    buf[2] = seq >> 8
    buf[3] = seq & 0xFF
    buf[4] = ts_hi >> 8
    buf[5] = ts_hi & 0xFF
    buf[6] = ts_lo >> 8
    buf[7] = ts_lo & 0xFF
    buf[8] = ssrc_hi >> 8
    buf[9] = ssrc_hi & 0xFF
    buf[10] = ssrc_lo >> 8
    buf[11] = ssrc_lo & 0xFF


def build(pt, seq, ts, ssrc, payload, marker=False, csrcs=(), ext=None, pad=0):
    """A whole packet as bytes (host tools, tests). ext = (profile, data) with len(data) % 4 == 0."""
    if not 0 <= pt <= 127 or len(csrcs) > MAX_CSRC or not 0 <= pad <= 255:
        raise RtpError("bad header field")
    b0 = (VERSION << 6) | (0x20 if pad else 0) | (0x10 if ext is not None else 0) | len(csrcs)
    out = bytearray(struct.pack(">BBHII", b0, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                                ts & 0xFFFFFFFF, ssrc & 0xFFFFFFFF))
    for c in csrcs:
        out += struct.pack(">I", c & 0xFFFFFFFF)
    if ext is not None:
        profile, data = ext
        if len(data) % 4 or len(data) > 0x3FFFC:
            raise RtpError("extension length")
        out += struct.pack(">HH", profile, len(data) // 4) + bytes(data)
    out += bytes(payload)
    if pad:
        out += bytes(pad - 1) + bytes([pad])
    if len(out) > MAX_PACKET:
        raise RtpError("packet of %d bytes" % len(out))
    return bytes(out)


class RtpPacket:
    """Fields of the last packet parsed; the payload stays in the caller's buffer."""

    def __init__(self):
        self.marker = False
        self.pt = 0
        self.seq = 0
        self.ts_hi = self.ts_lo = 0
        self.ssrc_hi = self.ssrc_lo = 0
        self.csrc_count = 0
        self.csrc_off = HEADER_LEN
        self.ext_profile = -1  # -1: no header extension
        self.ext_off = 0
        self.ext_len = 0
        self.payload_off = HEADER_LEN
        self.payload_len = 0
        self.padding = 0

    def parse_into(self, buf, n):
        """Check and read the packet in buf[:n]; on RtpError nothing here has changed."""
        if n < HEADER_LEN or n > len(buf) or n > MAX_PACKET:
            raise RtpError("packet of %d bytes" % n)
        b0 = buf[0]
        if b0 >> 6 != VERSION:
            raise RtpError("version %d" % (b0 >> 6))
        b1 = buf[1]
        if 72 <= (b1 & 0x7F) <= 76:  # RFC 5761 §4: RTCP SR/RR/SDES/BYE/APP on the same port
            raise RtpError("RTCP packet")
        cc = b0 & 0x0F
        off = HEADER_LEN + 4 * cc
        if off > n:
            raise RtpError("CSRC list runs past the packet")
        ext_profile, ext_off, ext_len = -1, 0, 0
        if b0 & 0x10:
            if off + 4 > n:
                raise RtpError("extension header runs past the packet")
            ext_profile = (buf[off] << 8) | buf[off + 1]
            ext_len = 4 * ((buf[off + 2] << 8) | buf[off + 3])
            ext_off = off + 4
            off = ext_off + ext_len
            if off > n:
                raise RtpError("extension runs past the packet")
        padding = 0
        if b0 & 0x20:
            padding = buf[n - 1]
            if padding == 0 or off + padding > n:
                raise RtpError("padding of %d bytes" % padding)
        self.marker = bool(b1 & 0x80)
        self.pt = b1 & 0x7F
        self.seq = (buf[2] << 8) | buf[3]
        self.ts_hi = (buf[4] << 8) | buf[5]
        self.ts_lo = (buf[6] << 8) | buf[7]
        self.ssrc_hi = (buf[8] << 8) | buf[9]
        self.ssrc_lo = (buf[10] << 8) | buf[11]
        self.csrc_count = cc
        self.csrc_off = HEADER_LEN
        self.ext_profile, self.ext_off, self.ext_len = ext_profile, ext_off, ext_len
        self.payload_off = off
        self.payload_len = n - off - padding
        self.padding = padding
        return self

    @property
    def ts(self):
        return (self.ts_hi << 16) | self.ts_lo

    @property
    def ssrc(self):
        return (self.ssrc_hi << 16) | self.ssrc_lo

    def csrc(self, buf, i):
        if not 0 <= i < self.csrc_count:
            raise RtpError("no CSRC %d" % i)
        o = self.csrc_off + 4 * i
        return (buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]


def parse(data):
    """Parse a whole packet (bytes-like); returns a new RtpPacket."""
    return RtpPacket().parse_into(data, len(data))
