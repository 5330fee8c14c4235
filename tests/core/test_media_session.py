# The sans-IO media pipeline (portier.media.session): two sessions exchange packets in memory.
# Expected audio comes from the test's own signal generator (mediapair.Signal), never from the
# code under test: L16 must arrive bit-exact, G.711 within the codec's quantisation step, the
# 16 kHz <-> 8 kHz path (a door's I2S against a G.711 call) with a high SNR.
from coretest import ON_MICROPYTHON, assert_raises, skip_on_micropython

from mediapair import CALL, DOOR, KEY, PHONE, TOKEN, relaybind, Signal, exact_frame_lag, find_lag, pair, run, s16
from portier.media import jitter, rtp
from portier.media.session import BIND_KEEPALIVE_MS, BIND_RETRY_MS, MediaError, MediaCore
from portier.media.srtp import SrtpContext, derive_master, derive_ssrc


_HEAP = ("a session per test, run after run, fragments the 128 KiB heap of the 64-bit host "
         "build; MicroPython runs the pipeline in test_media_session_heap and tests/host")


@skip_on_micropython(_HEAP)
def test_l16_arrives_bit_exact_after_the_jitter_delay():
    a, b = pair(("l16", 16000), 16000)
    sig = Signal(16000)
    lag = None
    ok = 0
    for k, kind, out in run(a, b, 60):
        if kind != jitter.FRAME_OK:
            assert lag is None, "concealment or silence after playout started"
            continue
        d = exact_frame_lag(sig, out, k, 320, 5)
        assert d >= 0 and (lag is None or d == lag), (k, d, lag)
        lag = d
        ok += 1
    st = b.stats.to_dict()
    assert ok >= 55 and st["received"] == 60 and st["played"] == ok
    assert st["srtp_rejected"] == 0 and st["bad"] == 0 and st["lost"] == 0
    assert a.stats.sent == 60 and a.stats.bytes_sent == 60 * (12 + 640 + 10)
    assert st["bytes_received"] == a.stats.bytes_sent


@skip_on_micropython(_HEAP)
def test_pcmu_and_pcma_within_the_quantisation_step():
    for codec in (("pcmu", 8000), ("pcma", 8000)):
        a, b = pair(codec, 8000)
        sig = Signal(8000)
        lag = None
        for k, kind, out in run(a, b, 30):
            if kind != jitter.FRAME_OK:
                continue
            if lag is None:
                lag = find_lag(sig, out, k, 160, 160 * 4)
                assert lag % 160 == 0, lag
            for j in range(160):
                x = sig.sample(k * 160 + j - lag)
                # G.711's step in the top segment is 1024 (A-law) / 1024 (mu-law): half of it,
                # scaled with the segment, bounds the error.
                assert abs(s16(out, j) - x) <= (abs(x) >> 4) + 36, (codec, k, j)
        assert b.stats.received == 30 and b.stats.played > 25


def test_g711_call_on_16k_audio_is_resampled_both_ways():
    a, b = pair(("pcmu", 8000), 16000)
    assert a.packet_bytes == 12 + 160 + 10 and a.audio_frame_bytes == 640
    sig = Signal(16000)
    lag = None
    sig_e = err_e = 0
    for k, kind, out in run(a, b, 24):
        if kind != jitter.FRAME_OK or k < 6:
            continue
        if lag is None:
            lag = find_lag(sig, out, k, 320, 320 * 3)
        for j in range(320):
            x = sig.sample(k * 320 + j - lag)
            d = s16(out, j) - x
            sig_e += x * x >> 8
            err_e += d * d >> 8
    assert lag is not None and err_e > 0
    assert sig_e > 300 * err_e  # better than 25 dB through down-, mu-law and upsampling


@skip_on_micropython(_HEAP)
def test_l16_call_on_8k_audio_is_resampled_both_ways():
    # A narrowband device in a wideband call: up to 16 kHz to send, down to 8 kHz to play.
    a, b = pair(("l16", 16000), 8000)
    assert a.packet_bytes == 12 + 640 + 10 and a.audio_frame_bytes == 320
    sig = Signal(8000)
    lag = None
    sig_e = err_e = 0
    for k, kind, out in run(a, b, 24):
        if kind != jitter.FRAME_OK or k < 6:
            continue
        if lag is None:
            lag = find_lag(sig, out, k, 160, 160 * 3)
        for j in range(160):
            x = sig.sample(k * 160 + j - lag)
            d = s16(out, j) - x
            sig_e += x * x >> 8
            err_e += d * d >> 8
    assert lag is not None and err_e > 0
    assert sig_e > 1000 * err_e  # better than 30 dB: L16 itself is lossless


@skip_on_micropython(_HEAP)
def test_wrong_key_is_rejected_and_counted():
    # The door's stream built independently (RtpSender + SrtpContext) under another call key.
    b = MediaCore(PHONE, DOOR, CALL, KEY, ("l16", 16000), TOKEN, 2, jitter_max_ms=100)
    sender = rtp.RtpSender(derive_ssrc(CALL, DOOR, 0), 100, 0)
    ctx = SrtpContext(*derive_master(bytes(32), DOOR))
    pkt = bytearray(12 + 640 + 10)
    out = bytearray(640)
    for k in range(10):
        sender.audio_into(pkt, rtp.PT_L16, k == 0, 320)
        n = ctx.protect_into(pkt, 12 + 640)
        assert b.datagram(pkt, n, 20 * k) is False
        assert b.play_into(out, 20 * k + 10) == jitter.FRAME_SILENCE
        assert out == bytearray(640)
    st = b.stats.to_dict()
    assert st["srtp_rejected"] == 10 and st["received"] == 0 and st["bad"] == 0
    # the same packets under the right key pass
    ctx = SrtpContext(*derive_master(KEY, DOOR))
    sender.audio_into(pkt, rtp.PT_L16, False, 320)
    assert b.datagram(pkt, ctx.protect_into(pkt, 12 + 640), 200)
    assert b.stats.received == 1


@skip_on_micropython(_HEAP)
def test_tampered_foreign_and_garbage_datagrams_are_dropped():
    a, b = pair(("pcmu", 8000), 8000)
    pcm = bytearray(320)
    pkt = bytearray(a.packet_bytes)
    n = a.send_frame_into(pcm, pkt)
    bad = bytearray(pkt)
    bad[20] ^= 1
    assert not b.datagram(bad, n, 0)
    assert b.stats.srtp_rejected == 1
    # the peer's stream under another call-id: another SSRC, refused before SRTP
    c = MediaCore(DOOR, PHONE, "OTHER", KEY, "pcmu", TOKEN, 1, audio_rate=8000)
    other = bytearray(c.packet_bytes)
    assert not b.datagram(other, c.send_frame_into(pcm, other), 0)
    assert b.stats.bad == 1
    import random

    rnd = random.Random(6) if not ON_MICROPYTHON else None
    buf = bytearray(300)
    for i in range(200 if ON_MICROPYTHON else 2000):
        m = (i * 37) % 300
        for j in range(m):
            buf[j] = rnd.getrandbits(8) if rnd else (i * 131 + j * 71) & 0xFF
        if i % 3 == 0 and m > 12:
            buf[0] = 0x80  # RTP-looking, with the peer's SSRC half the time
            if i % 2:
                for j in range(4):
                    buf[8 + j] = pkt[8 + j]
        assert b.datagram(buf, m, 0) is False
    assert b.datagram(pkt, n, 0)  # the genuine packet still passes afterwards
    assert b.stats.received == 1


@skip_on_micropython(_HEAP)
def test_loss_and_reordering_are_concealed_and_counted():
    def deliver(k, pkts, held):
        if k % 10 == 7:
            return []  # lost
        if k % 10 == 3:
            held.extend(pkts)  # arrives after the next one
            return []
        if held:
            pkts = pkts + held
            del held[:]
        return pkts

    a, b = pair(("l16", 16000), 16000)
    sig = Signal(16000)
    matched = 0
    for k, kind, out in run(a, b, 80, deliver):
        if kind == jitter.FRAME_OK:
            # a sent frame; the first one after a concealed gap is cross-faded over its head
            # (G.711 Appendix I overlap-add, at most 1/4 of a 15 ms pitch period + 2.5 ms)
            assert exact_frame_lag(sig, out, k, 320, 8, 140) >= 0, k
            matched += 1
    st = b.stats.to_dict()
    # 8 packets dropped; a packet reordered by one frame comes 20 ms late, which the frame of
    # margin the jitter buffer starts with absorbs: none is late (concealed before it came).
    # The buffer then grows for that jitter, so the last drop (tick 77) may not be played yet.
    assert st["late"] == 0 and 7 <= st["lost"] <= 8
    assert st["received"] == 72 and st["concealed"] >= st["lost"]
    assert matched >= 60 and st["srtp_rejected"] == 0


def _relay_says(bind, kind, addr, key=TOKEN[relaybind.PUBLIC_LEN:]):
    # the relay's answer to a bind: its fields, the address it sees, under the leg key
    _, public, counter, _, peer = relaybind.parse(bind)
    return bytearray(relaybind.build(key, kind, public, counter, addr, peer))


@skip_on_micropython(_HEAP)
def test_bind_schedule_and_bound_answer():
    a, _b = pair("l16", 16000)
    buf = bytearray(64)
    here = bytes((127, 0, 0, 1, 0x9C, 0x40))
    assert a.bind_due(1000) and not a.bound
    n = a.bind_into(buf, 1000)
    kind, public, counter, addr, peer = relaybind.parse(bytes(buf[:n]))
    # the caller's bind names its answerer (the peer), the address is not known yet
    assert (kind, public, counter, addr) == (relaybind.TYPE_BIND, TOKEN[:relaybind.PUBLIC_LEN], 1,
                                             bytes(6))
    assert peer == relaybind.device_tag(PHONE)
    assert not a.bind_due(1000 + BIND_RETRY_MS - 1) and a.bind_due(1000 + BIND_RETRY_MS)
    assert a.next_bind_ms(1100) == BIND_RETRY_MS - 100
    # answers under another key, or "bound" for an address it never named, do not count
    for m in (_relay_says(buf[:n], relaybind.TYPE_BOUND, bytes(6), bytes(16)),
              _relay_says(buf[:n], relaybind.TYPE_ADDRESS, here, bytes(16)),
              _relay_says(buf[:n], relaybind.TYPE_BOUND, here)):
        assert not a.datagram(m, len(m), 1100) and not a.bound
    # about our leg but not the answer to our bind (forged, or for another address): ignored;
    # an address answer whose MAC fails: counted
    assert a.stats.bad == 1
    # the relay names our address: bind again at once, naming it
    m = _relay_says(buf[:n], relaybind.TYPE_ADDRESS, here)
    assert not a.datagram(m, len(m), 1100) and not a.bound and a.bind_due(1100)
    n = a.bind_into(buf, 1100)
    assert relaybind.parse(bytes(buf[:n]))[2:4] == (2, here)
    m = _relay_says(buf[:n], relaybind.TYPE_BOUND, here)
    a.datagram(m, len(m), 1150)
    assert a.bound and a.stats.binds_received == 1
    assert not a.bind_due(1150 + BIND_KEEPALIVE_MS - 1) and a.bind_due(1150 + BIND_KEEPALIVE_MS)
    a.bind_into(buf, 11150)
    assert a.next_bind_ms(11150) == BIND_KEEPALIVE_MS  # keepalive pace once bound
    # ticks wrap at 2**30
    a.bind_into(buf, 0x3FFFFF00)
    assert not a.bind_due(0x3FFFFF00 + 100 - 0x40000000)
    # a callee's binds name nobody
    _a, b = pair("l16", 16000)
    n = b.bind_into(buf, 0)
    assert relaybind.parse(bytes(buf[:n]))[4] == bytes(4)


@skip_on_micropython(_HEAP)
def test_bad_parameters():
    assert_raises(MediaError, MediaCore, DOOR, PHONE, CALL, KEY, "opus", TOKEN, 1)
    assert_raises(MediaError, MediaCore, DOOR, PHONE, CALL, KEY, "pcmu", TOKEN[:10], 1)
    assert_raises(MediaError, MediaCore, DOOR, PHONE, CALL, KEY, "pcmu", TOKEN, 3)
    assert_raises(MediaError, MediaCore, DOOR, PHONE, CALL, KEY, "pcmu", TOKEN, 1, 44100)
    assert MediaCore(DOOR, PHONE, CALL, KEY, rtp.PT_PCMA, TOKEN, 2).pt == rtp.PT_PCMA
