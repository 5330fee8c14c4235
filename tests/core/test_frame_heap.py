# The door's whole full-duplex frame allocates nothing: the path bench/bench_frame.py times,
# i.e. INMP441 words -> MicConditioner -> MediaCore with the door's echo control (near end,
# 16 -> 8 kHz, G.711, RTP, SRTP) and back (SRTP, jitter buffer, 8 -> 16 kHz, far end), under
# micropython.heap_lock() on MicroPython, where any allocation raises MemoryError. The session
# heap tests cover MediaCore alone; this one adds the microphone conditioner and echo control.
from portier.media.dsp import EchoControl, MicConditioner
from portier.media.session import MediaCore

_NS = 320  # one 20 ms frame at the board's 16 kHz I2S rate
RAW = bytearray(4 * _NS)  # made at import, while the test heap is fresh
PCM = bytearray(2 * _NS)
OUT = bytearray(2 * _NS)


def _mic_words(raw, frame):
    # A loud sawtooth (well above the echo control's thresholds) in the 24-bit slot of each
    # 32-bit word, changing from frame to frame.
    for i in range(_NS):
        v = ((((i + 7 * frame) * 97) % 4000 - 2000) * 256) & 0xFFFFFF
        raw[4 * i] = 0
        raw[4 * i + 1] = v & 0xFF
        raw[4 * i + 2] = (v >> 8) & 0xFF
        raw[4 * i + 3] = v >> 16


def test_door_frame_with_mic_dsp_and_echo_control_allocates_nothing():
    import micropython

    s = MediaCore("door@portier.local", "door@portier.local", "5C4B3A29180716F5E4D3C2B1A0998877",
                  bytes(range(32)), ("pcmu", 8000), bytes(range(0xA0, 0xB8)), 1,
                  audio_rate=16000, seq0=65533, jitter_max_ms=40, echo=EchoControl())
    mic = MicConditioner()
    pkt = bytearray(s.packet_bytes)
    t = 0
    for k in range(20):
        _mic_words(RAW, k)
        mic.process(RAW, PCM, _NS)
        s.datagram(pkt, s.send_frame_into(PCM, pkt), t)
        s.play_into(OUT, t + 10)
        t += 20
    _mic_words(RAW, 20)
    micropython.heap_lock()
    try:
        for _ in range(6):  # crosses the sequence number wrap
            mic.process(RAW, PCM, _NS)
            n = s.send_frame_into(PCM, pkt)
            s.datagram(pkt, n, t)
            s.play_into(OUT, t + 10)
            t += 20
    finally:
        micropython.heap_unlock()
    st = s.stats
    assert st.sent == 26 and st.received == 26 and st.srtp_rejected == 0 and st.bad == 0
    assert st.played >= 20 and st.concealed == 0
    peak = 0
    for i in range(_NS):
        v = OUT[2 * i] | (OUT[2 * i + 1] << 8)
        v = v - 0x10000 if v & 0x8000 else v
        peak = max(peak, abs(v))
    assert peak > 1000  # the conditioned sawtooth came back through G.711, not silence
