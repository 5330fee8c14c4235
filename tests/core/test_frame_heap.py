# The door's whole full-duplex frame allocates nothing: the path bench/bench_frame.py times,
# i.e. INMP441 words -> MicConditioner -> MediaCore with the door's echo control (near end,
# 16 -> 8 kHz, G.711, RTP, SRTP) and back (SRTP, jitter buffer, 8 -> 16 kHz, far end), under
# micropython.heap_lock() on MicroPython, where any allocation raises MemoryError. The session
# heap tests cover MediaCore alone; this one adds the microphone conditioner and echo control.
#
# Real SSRCs and timestamps are random 32-bit values: an int of 2**30 or more is a heap object
# on a 32-bit board, which the 64-bit host's heap lock cannot see, so under CPython the frame
# path runs with tests/core's small-int check (host_tools/mpshim/smallint.py), and the locked
# frames cross 2**30, 2**31 and 2**32 of the timestamp with SSRCs above and below 2**31.
import gc

from coretest import ON_MICROPYTHON
from portier.media.dsp import EchoControl, MicConditioner
from portier.media.session import MediaCore
from portier.media.srtp import derive_ssrc

_NS = 320  # one 20 ms frame at the board's 16 kHz I2S rate
_STEP = 160  # RTP timestamp units per G.711 packet
RAW = bytearray(4 * _NS)  # made at import, while the test heap is fresh
PCM = bytearray(2 * _NS)
OUT = bytearray(2 * _NS)
DOOR = "door@portier.local"
# Derived SSRCs: 0xe349d4ea (above 2**31) and 0x07092527 (below 2**30)
CALLS = ("5C4B3A29180716F5E4D3C2B1A0998877", "00000000000000000000000000000002")


def _mic_words(raw, frame):
    # A loud sawtooth (well above the echo control's thresholds) in the 24-bit slot of each
    # 32-bit word, changing from frame to frame.
    for i in range(_NS):
        v = ((((i + 7 * frame) * 97) % 4000 - 2000) * 256) & 0xFFFFFF
        raw[4 * i] = 0
        raw[4 * i + 1] = v & 0xFF
        raw[4 * i + 2] = (v >> 8) & 0xFF
        raw[4 * i + 3] = v >> 16


def _door_frames(call_id, ts0):
    import micropython

    gc.collect()
    s = MediaCore(DOOR, DOOR, call_id, bytes(range(32)), ("pcmu", 8000),
                  bytes(range(0xA0, 0xC1)), 1, audio_rate=16000, seq0=65533, ts0=ts0,
                  jitter_max_ms=40, echo=EchoControl())
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
        for _ in range(6):  # crosses the sequence number wrap and the timestamp's boundary
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
    assert s.jitter().stats.ts_jumps == 0  # the wrap is one step like any other
    peak = 0
    for i in range(_NS):
        v = OUT[2 * i] | (OUT[2 * i + 1] << 8)
        v = v - 0x10000 if v & 0x8000 else v
        peak = max(peak, abs(v))
    assert peak > 1000  # the conditioned sawtooth came back through G.711, not silence


def test_door_frame_with_mic_dsp_and_echo_control_allocates_nothing():
    assert derive_ssrc(CALLS[0], DOOR, 0) >= 1 << 31 and derive_ssrc(CALLS[1], DOOR, 0) < 1 << 30
    # The timestamp crosses the boundary at the third locked frame.
    bounds = (1 << 32,) if ON_MICROPYTHON else (1 << 30, 1 << 31, 1 << 32)
    for call_id in CALLS:
        for bound in bounds:
            _door_frames(call_id, (bound - 22 * _STEP) & 0xFFFFFFFF)
