# The L16 (wideband) media session's frame paths allocate nothing. Its own module and no test
# helpers: an L16 session is the largest (~26 KiB on the 64-bit host build) and needs a fresh
# 128 KiB test heap (see test_media_session_heap.py for the G.711 configurations).
from portier.media.session import MediaCore
from portier.wire import relaybind


def test_l16_wideband_allocates_nothing():
    import micropython

    # One session talks to itself (own id = peer id): both SRTP directions, one call's work.
    s = MediaCore("door@portier.local", "door@portier.local", "5C4B3A29", bytes(range(32)),
                  ("l16", 16000), bytes(range(33)), 1, audio_rate=16000, seq0=65530,
                  jitter_max_ms=40)
    pcm = bytearray(640)
    for i in range(320):
        v = (i * 97) % 4000 - 2000  # a sawtooth: every sample differs from its neighbours
        pcm[2 * i] = v & 0xFF
        pcm[2 * i + 1] = (v >> 8) & 0xFF
    pkt = bytearray(s.packet_bytes)
    out = bytearray(640)
    bind = bytearray(relaybind.BIND_LEN)
    for k in range(20):
        s.datagram(pkt, s.send_frame_into(pcm, pkt), 20 * k)
        s.play_into(out, 20 * k + 10)
    t = 400
    micropython.heap_lock()
    try:
        for _ in range(5):  # crosses the sequence number wrap
            n = s.send_frame_into(pcm, pkt)
            s.datagram(pkt, n, t)
            s.play_into(out, t + 10)
            s.bind_into(bind, t)
            t += 20
    finally:
        micropython.heap_unlock()
    assert s.stats.received == 25 and s.stats.srtp_rejected == 0 and s.stats.bad == 0
    assert out == pcm  # L16 is lossless: the frame played is the frame sent
