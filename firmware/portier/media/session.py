# The per-call media pipeline, sans-IO: PCM frames and datagrams in, datagrams and PCM frames
# out, time as now_ms arguments. The asyncio edge (portier/net/media.py) owns the socket, the
# audio device and the 20 ms clocks; everything worth testing is here.
#
# Send:    PCM at the audio rate -> (resample) -> G.711/L16 -> RTP -> SRTP (own id's keys)
# Receive: bind answer, or SRTP (peer id's keys) -> RTP checks -> jitter buffer
# Playout: jitter buffer (decode, conceal) -> (resample) -> PCM at the audio rate
# Keys and SSRCs: docs/protocol.md section 5; relay binding: section 7; payloads: section 6.
#
# After construction the three frame paths allocate nothing (tests/core/test_media_session.py
# runs them under micropython.heap_lock()): buffers are made here once, counters are small ints.
# No int on these paths reaches 2**30 (a heap object on a 32-bit board, where the host's
# 64-bit heap lock cannot see it; tests/core's CPython run checks it, mpshim/smallint.py): the
# 32-bit timestamp and SSRC go out as 16-bit halves (rtp.RtpSender), the SSRC is compared
# byte by byte, and the jitter buffer gets the timestamp's low 30 bits, all it compares.
import os

from micropython import const

from ..wire import relaybind
from . import g711, rtp
from .dsp import Downsampler, Upsampler
from .jitter import JitterBuffer
from .srtp import SrtpContext, SrtpError, derive_master, derive_ssrc

FRAME_MS = const(20)
BIND_RETRY_MS = const(200)  # bind every 200 ms until the relay answers
BIND_KEEPALIVE_MS = const(10000)  # then every 10 s (docs/protocol.md section 7)
_TAG = const(10)  # AES_CM_128_HMAC_SHA1_80
_TICKS_MASK = const(0x3FFFFFFF)

# Codec names as the call engine gives them ((name, rate) from the offer/accept) -> RTP PT.
CODEC_PT = {"pcmu": rtp.PT_PCMU, "pcma": rtp.PT_PCMA, "l16": rtp.PT_L16}


class MediaError(ValueError):
    pass


def ticks_diff(a, b):
    return ((a - b + 0x20000000) & _TICKS_MASK) - 0x20000000


def ticks_add(a, ms):
    return (a + ms) & _TICKS_MASK


def codec_pt(codec):
    """RTP payload type for a codec given as (name, rate), a name, or a payload type."""
    if isinstance(codec, int):
        pt = codec
    else:
        name = codec[0] if isinstance(codec, tuple) else codec
        pt = CODEC_PT.get(name.lower() if isinstance(name, str) else name, -1)
    if pt not in rtp.AUDIO_PT:
        raise MediaError("codec %r" % (codec,))
    return pt


class MediaStats:
    """Counters of one call's media. Packets and bytes are SRTP datagrams on the wire."""

    KEYS = ("sent", "bytes_sent", "binds_sent", "received", "bytes_received", "played",
            "lost", "late", "concealed", "silence", "duplicates", "stretched", "dropped",
            "restarts", "target_ms", "srtp_rejected", "bad", "binds_received")

    def __init__(self):
        self.sent = 0  # audio packets sent
        self.bytes_sent = 0
        self.binds_sent = 0
        self.received = 0  # audio packets that passed SRTP and the RTP checks
        self.bytes_received = 0
        self.srtp_rejected = 0  # failed SRTP authentication / replay / SSRC binding
        self.bad = 0  # not RTP, wrong SSRC or payload type, stray datagrams
        self.binds_received = 0  # the relay's "bound" answers
        self._jitter = None
        self._echo = None  # the session's dsp.EchoControl, if any

    # From the jitter buffer's counters (portier.media.jitter.JitterStats):
    @property
    def played(self):  # frames played from packets
        return self._jitter.stats.played

    @property
    def lost(self):  # frames whose packet never came in time
        return self._jitter.stats.lost

    @property
    def late(self):  # packets that came after their frame was concealed
        return self._jitter.stats.late

    @property
    def concealed(self):  # frames synthesised (loss, late, stretch)
        return self._jitter.stats.concealed

    @property
    def silence(self):  # frames of silence (before the first packet, silent peer)
        return self._jitter.stats.silence

    @property
    def duplicates(self):
        return self._jitter.stats.duplicates

    @property
    def stretched(self):  # concealment frames inserted to deepen the jitter buffer
        return self._jitter.stats.stretched

    @property
    def dropped(self):  # frames skipped to make it shallower, or on overflow
        return self._jitter.stats.dropped

    @property
    def restarts(self):  # sequence discontinuities taken as a new stream
        return self._jitter.stats.restarts

    @property
    def target_ms(self):  # the jitter buffer's target depth now (grows with jitter and loss)
        return self._jitter.target_ms()

    def to_dict(self):
        """A plain dict of every counter (allocates: not for the frame paths); with echo
        control, echo_ducked: microphone frames it attenuated while the far end talked."""
        out = {k: getattr(self, k) for k in self.KEYS}
        if self._echo is not None:
            out["echo_ducked"] = self._echo.frames_ducked
        return out


class MediaCore:
    """The media of one call between this device (own_jid) and its peer (peer_jid).

    call_key: the call's 32-byte key; call_id: the call-id attribute; codec: (name, rate)
    as in the engine's "media" event, a name ("pcmu", "pcma", "l16") or an RTP PT;
    relay_token: this leg's token from the relay block (relaybind.TOKEN_LEN bytes), pid: this party's leg
    (relaybind.PID_CALLER / PID_CALLEE); audio_rate: the audio device's rate (8000 or
    16000; resampled to and from the codec's rate). seq0/ts0: first RTP sequence number and
    timestamp (random when None). jitter_min_ms/jitter_max_ms: the jitter buffer's bounds.
    echo: an optional dsp.EchoControl applied to both directions (door units).
    """

    def __init__(self, own_jid, peer_jid, call_id, call_key, codec, relay_token, pid,
                 audio_rate=16000, seq0=None, ts0=None, jitter_min_ms=20, jitter_max_ms=200,
                 echo=None):
        pt = codec_pt(codec)
        _name, rate, width, _ev = rtp.AUDIO_PT[pt]
        if audio_rate not in (8000, 16000):
            raise MediaError("audio rate %r" % (audio_rate,))
        if pid != relaybind.PID_CALLER and pid != relaybind.PID_CALLEE:
            raise MediaError("pid %r" % (pid,))
        try:  # the caller's binds name the answerer: the relay joins its leg to that one
            binder = relaybind.Binder(relay_token, peer_jid if pid == relaybind.PID_CALLER
                                      else None)
        except relaybind.RelayBindError as e:
            raise MediaError(str(e))
        self.pt = pt
        self.rate = rate
        self.audio_rate = audio_rate
        self.frame_samples = n = rate * FRAME_MS // 1000  # per packet, at the codec's rate
        self.audio_frame_bytes = 2 * (audio_rate * FRAME_MS // 1000)
        self.payload_bytes = n * width
        self.packet_bytes = rtp.HEADER_LEN + self.payload_bytes + _TAG
        # The big buffers first, while the heap is least fragmented (key derivation below
        # leaves garbage behind); a board makes a session once per call.
        self._jb = JitterBuffer(g711.DECODERS[pt], n, self.payload_bytes, rate,
                                FRAME_MS, jitter_min_ms, jitter_max_ms)
        rnd = os.urandom(6)
        if seq0 is None:
            seq0 = rnd[0] << 8 | rnd[1]
        if ts0 is None:  # random in all 32 bits (RFC 3550 5.1); a long int once per call
            ts0 = (rnd[2] << 24) | (rnd[3] << 16) | (rnd[4] << 8) | rnd[5]
        ssrc = derive_ssrc(call_id, own_jid, 0)
        self._rtp = rtp.RtpSender(ssrc, seq0, ts0)
        # Keystream buffers sized to this call's payload (one ECB call per packet; anything
        # longer still works, in several): 11 blocks for G.711 instead of the default 48.
        blocks = (self.payload_bytes + 15) >> 4
        k, s = derive_master(call_key, own_jid)
        self._tx = SrtpContext(k, s, keystream_blocks=blocks)
        k, s = derive_master(call_key, peer_jid)
        self._rx = SrtpContext(k, s, keystream_blocks=blocks)
        peer = derive_ssrc(call_id, peer_jid, 0)
        self._peer_ssrc = bytearray((peer >> 24 & 0xFF, peer >> 16 & 0xFF, peer >> 8 & 0xFF,
                                     peer & 0xFF))
        self._encode = g711.ENCODERS[pt]
        self._codec_pcm = bytearray(2 * n)  # one frame at the codec's rate
        self._down = self._up = None
        if audio_rate > rate:
            self._down = Downsampler(n)  # mic 16 kHz -> 8 kHz codec
            self._up = Upsampler(n)  # 8 kHz codec -> 16 kHz speaker
        elif audio_rate < rate:
            self._up_tx = Upsampler(n // 2)
            self._down_rx = Downsampler(n // 2)
        self._binder = binder
        self._echo = echo
        self._marker = True
        self._out_obj = None  # the last packet buffer, and a view of its payload area
        self._out_mv = None
        self.bound = False
        self._bind_due = -1  # ticks of the next bind; -1: at once
        self.stats = MediaStats()
        self.stats._echo = echo
        self.echo = echo
        self.stats._jitter = self._jb

    # -- relay binding ---------------------------------------------------------------------

    def bind_due(self, now_ms):
        """True when a bind datagram should go out now (bind_into, then send it)."""
        return self._bind_due < 0 or ticks_diff(now_ms, self._bind_due) >= 0

    def next_bind_ms(self, now_ms):
        """ms until the next bind is due (0: now)."""
        if self._bind_due < 0:
            return 0
        d = ticks_diff(self._bind_due, now_ms)
        return d if d > 0 else 0

    def bind_into(self, buf, now_ms):
        """The bind datagram into buf; returns its length and schedules the next one."""
        n = self._binder.bind_into(buf)
        self._bind_due = ticks_add(now_ms, BIND_KEEPALIVE_MS if self.bound else BIND_RETRY_MS)
        self.stats.binds_sent += 1
        return n

    # -- send --------------------------------------------------------------------------------

    def send_frame_into(self, pcm, out):
        """One frame of microphone PCM (audio_frame_bytes, little-endian int16 at audio_rate)
        to one SRTP packet in out (>= packet_bytes); returns the packet's length. The echo
        control, when present, changes pcm in place."""
        n = self.frame_samples
        if self._echo is not None:
            self._echo.near_end(pcm, self.audio_frame_bytes >> 1)
        src = pcm
        if self._down is not None:
            self._down.process(pcm, self._codec_pcm)
            src = self._codec_pcm
        elif self.audio_rate < self.rate:
            self._up_tx.process(pcm, self._codec_pcm)
            src = self._codec_pcm
        hl = self._rtp.audio_into(out, self.pt, self._marker, n)
        self._marker = False
        m = self._encode_at(src, out, hl, n)
        m = self._tx.protect_into(out, hl + m)
        st = self.stats
        st.sent += 1
        st.bytes_sent += m
        return m

    def _encode_at(self, src, out, off, n):
        # The encoders write from index 0: a view of the payload area, made once per packet
        # buffer (the edge keeps one), lets them write in place without a per-frame slice.
        if self._out_obj is not out:
            self._out_obj = out
            self._out_mv = memoryview(out)[off:]
        return self._encode(src, self._out_mv, n)

    def talk_spurt(self):
        """The next packet starts a talk spurt (marker bit): after a pause in sending."""
        self._marker = True

    # -- receive -----------------------------------------------------------------------------

    def datagram(self, buf, n, now_ms):
        """One datagram from the socket in buf[:n] (decrypted in place). Returns True when it
        was audio for the jitter buffer. Never raises on peer bytes: counts and drops."""
        st = self.stats
        if n >= 2 and buf[0] == relaybind.MAGIC0 and buf[1] == relaybind.MAGIC1:
            return self._bound(buf, n, now_ms)
        if n < rtp.HEADER_LEN + _TAG or buf[0] >> 6 != 2:
            st.bad += 1
            return False
        p = self._peer_ssrc
        if buf[8] != p[0] or buf[9] != p[1] or buf[10] != p[2] or buf[11] != p[3]:
            st.bad += 1  # not the peer's stream (SRTP would bind to whatever came first)
            return False
        try:
            m = self._rx.unprotect_into(buf, n)
        except SrtpError:
            st.srtp_rejected += 1
            return False
        b0 = buf[0]
        off = rtp.HEADER_LEN + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            if off + 4 > m:
                st.bad += 1
                return False
            off += 4 + 4 * ((buf[off + 2] << 8) | buf[off + 3])
        end = m
        if b0 & 0x20:
            end -= buf[m - 1]
        if (buf[1] & 0x7F) != self.pt or end - off != self.payload_bytes:
            st.bad += 1  # telephone events, RTCP or a frame of another size
            return False
        seq = (buf[2] << 8) | buf[3]
        ts = ((buf[4] & 0x3F) << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]
        if not self._jb.put(buf, off, end - off, seq, ts, now_ms):
            return False  # late or duplicate: the jitter buffer counted it
        st.received += 1
        st.bytes_received += n
        return True

    def _bound(self, buf, n, now_ms):
        st = self.stats
        got = self._binder.answer(buf, n)
        if got == relaybind.REBIND:
            self._bind_due = -1  # the relay told us our address: bind naming it, at once
            return False
        if got != relaybind.BOUND:
            if got != relaybind.STALE:  # a retry's late answer is no fault
                st.bad += 1
            return False
        st.binds_received += 1
        if not self.bound:
            self.bound = True
            self._bind_due = ticks_add(now_ms, BIND_KEEPALIVE_MS)
        return False

    # -- playout -----------------------------------------------------------------------------

    def play_into(self, pcm, now_ms):
        """One frame for the speaker (audio_frame_bytes into pcm); returns the jitter
        buffer's frame kind (jitter.FRAME_OK / FRAME_CONCEALED / FRAME_SILENCE)."""
        if self._up is not None:
            kind = self._jb.pop_into(self._codec_pcm, now_ms)
            self._up.process(self._codec_pcm, pcm)
        elif self.audio_rate < self.rate:
            kind = self._jb.pop_into(self._codec_pcm, now_ms)
            self._down_rx.process(self._codec_pcm, pcm)
        else:
            kind = self._jb.pop_into(pcm, now_ms)
        if self._echo is not None:
            self._echo.far_end(pcm, self.audio_frame_bytes >> 1)
        return kind

    def jitter(self):
        return self._jb
