# Helpers for the media-session core tests (test_media_session*.py): a test signal made
# independently of the code under test, and two sessions wired back to back in memory.
import gc
import math
from array import array

from coretest import ON_MICROPYTHON

from portier.media.session import MediaCore, codec_pt
from portier.wire import relaybind

KEY = bytes(range(32))
TOKEN = bytes(range(0xA0, 0xA0 + relaybind.TOKEN_LEN))  # a leg token: public part + key
DOOR = "door@portier.local"
PHONE = "phone1@portier.local"
CALL = "5C4B3A29180716F5E4D3C2B1A0998877"


# Made at import, while the heap is fresh: a session's construction leaves the MicroPython
# test heap too fragmented for 640-byte buffers afterwards.
PCM = bytearray(640)  # one 20 ms frame at 16 kHz, the largest
OUT = bytearray(640)
POOL = [bytearray(12 + 640 + 10) for _ in range(3)]  # packets; a held one lives one tick


class Signal:
    """Two tones (400 Hz and 1 kHz, well inside G.711's band) at `rate`, the first under a
    slow triangular envelope (period 2000 samples) so that no frame repeats an earlier one
    within the lags searched; sample(i) is an int."""

    def __init__(self, rate):
        self.p1 = rate // 400
        self.p2 = rate // 1000
        self.t1 = array("h", [int(9000 * math.sin(2 * math.pi * i / self.p1)) for i in range(self.p1)])
        self.t2 = array("h", [int(5000 * math.sin(2 * math.pi * i / self.p2)) for i in range(self.p2)])

    def sample(self, i):
        if i < 0:
            return 0
        e = i % 2000
        env = 4 + (e if e < 1000 else 2000 - e) * 12 // 1000  # 4..16, in sixteenths
        return (self.t1[i % self.p1] * env >> 4) + self.t2[i % self.p2]

    def frame_into(self, buf, first, n):
        for k in range(n):
            v = self.sample(first + k) & 0xFFFF
            buf[2 * k] = v & 0xFF
            buf[2 * k + 1] = v >> 8


def s16(buf, k):
    v = buf[2 * k] | (buf[2 * k + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v


def pair(codec, rate, seq0=65500, ts0=0x3FFFFF00):
    """Door (caller) and phone (callee) sessions of one call. Two sessions do not fit the
    MicroPython test heap (128 KiB on a 64-bit build, after ~60 KiB of imports), so there the
    door talks to itself: own id = peer id, one session whose receive context and expected SSRC
    derive from the same id as its send side (the direction split is covered on CPython and
    by tests/host/test_media_relay.py)."""
    if ON_MICROPYTHON:
        gc.collect()
        s = MediaCore(DOOR, DOOR, CALL, KEY, codec, TOKEN, relaybind.PID_CALLER, audio_rate=rate,
                         seq0=seq0, ts0=ts0, jitter_max_ms=40)
        return s, s
    a = MediaCore(DOOR, PHONE, CALL, KEY, codec, TOKEN, relaybind.PID_CALLER, audio_rate=rate,
                     seq0=seq0, ts0=ts0, jitter_max_ms=100)  # seq and ts wrap in tests
    gc.collect()
    b = MediaCore(PHONE, DOOR, CALL, KEY, codec, TOKEN, relaybind.PID_CALLEE, audio_rate=rate,
                     jitter_max_ms=100)
    return a, b


def run(a, b, frames, deliver=None):
    """a sends `frames` frames of Signal to b, which plays one frame per tick. deliver(k, pkts,
    held) may drop or hold back the packets of tick k. Yields (k, kind, out) per played frame."""
    sig = Signal(a.audio_rate)
    ns = a.audio_frame_bytes // 2
    pcm, out, pool = PCM, OUT, POOL
    held = []
    for k in range(frames):
        now = 20 * k
        sig.frame_into(pcm, k * ns, ns)
        pkt = pool[k % 3]
        n = a.send_frame_into(pcm, pkt)
        pkts = [(pkt, n)]
        if deliver is not None:
            pkts = deliver(k, pkts, held)
        for p, m in pkts:
            b.datagram(p, m, now + 5)
        kind = b.play_into(out, now + 10)
        yield k, kind, out


def find_lag(sig, out, k, ns, max_lag):
    """The delay (samples) at which out best matches the input around frame k."""
    best, best_err = -1, None
    for lag in range(max_lag):
        err = 0
        for j in range(0, ns, 3):
            d = s16(out, j) - sig.sample(k * ns + j - lag)
            err += d * d
        if best_err is None or err < best_err:
            best, best_err = lag, err
    return best


def exact_frame_lag(sig, out, k, ns, max_frames, start=0):
    """d such that out[start:] is exactly that part of input frame k - d, or -1."""
    for d in range(max_frames):
        base = (k - d) * ns
        for j in range(start, ns):
            if s16(out, j) != sig.sample(base + j):
                break
        else:
            return d
    return -1


def steady(codec, rate, ts0=0x3FFFFF00):
    sig = Signal(rate)
    a, b = pair(codec, rate, ts0=ts0)
    ns = a.audio_frame_bytes // 2
    pcm, pkt, out = PCM, POOL[0], OUT
    bind = bytearray(relaybind.BIND_LEN)
    for k in range(20):
        sig.frame_into(pcm, k * ns, ns)
        n = a.send_frame_into(pcm, pkt)
        b.datagram(pkt, n, 20 * k)
        b.play_into(out, 20 * k + 10)
    return a, b, pcm, pkt, out, bind


def locked_frames(codec, rate):
    """Five steady-state frames each way under micropython.heap_lock(), the RTP timestamp
    crossing 2**32 among them (both sessions' SSRCs, derived from CALL, are above 2**31)."""
    import micropython

    from portier.media import rtp

    step = rtp.AUDIO_PT[codec_pt(codec)][1] // 50  # samples per 20 ms packet
    a, b, pcm, pkt, out, bind = steady(codec, rate, ts0=(1 << 32) - 22 * step)
    t = 400
    micropython.heap_lock()
    try:
        for _ in range(5):
            n = a.send_frame_into(pcm, pkt)  # mic frame -> SRTP packet
            b.datagram(pkt, n, t)  # SRTP packet -> jitter buffer
            b.play_into(out, t + 10)  # jitter buffer -> speaker frame
            a.bind_into(bind, t)  # keepalive
            t += 20
    finally:
        micropython.heap_unlock()
    assert b.stats.received == 25 and b.stats.srtp_rejected == 0 and b.stats.bad == 0
