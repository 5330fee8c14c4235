# A media loop in miniature over the virtual audio HAL, in both runtimes (its own module: the
# heap is fresh after the WAV tests).
import gc
import os

# Compiling these from source on a 96 KiB heap fragments it; collecting between imports keeps
# a contiguous block for the next parse (a board loads precompiled .mpy instead).
from portier.media import jitter  # noqa: E402

gc.collect()
from portier.media import rtp  # noqa: E402

gc.collect()
from portier.media import dsp, g711  # noqa: E402

gc.collect()
import asyncio  # noqa: E402

from portier.hal import virtual  # noqa: E402

_TMP = "/tmp/portier-loop-test-%d" % os.getpid() if hasattr(os, "getpid") else "/tmp/portier-loop-test"


class _Chunks:
    """A readable file made of a header and a body, without joining them (heap)."""

    def __init__(self, head, body):
        self.parts = [head, body]
        self.pos = 0

    def read(self, n):
        while self.parts and self.pos >= len(self.parts[0]):
            self.parts.pop(0)
            self.pos = 0
        if not self.parts:
            return b""
        out = self.parts[0][self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def close(self):
        pass


def _ramp(n):
    out = bytearray(2 * n)
    for i in range(n):
        v = ((i * 37) % 4000 - 2000) & 0xFFFF  # within +-2000: the echo control stays idle
        out[2 * i], out[2 * i + 1] = v & 0xFF, v >> 8
    return out


def test_loopback_call_through_the_whole_audio_path():
    # The pieces as a media loop wires them: mic frame -> echo control -> L16 -> RTP -> jitter
    # buffer -> echo control -> speaker frame, over asyncio in both runtimes. L16 is lossless,
    # so after the buffer's start-up delay the speaker plays exactly what the mic heard.
    frames = 6
    data = _ramp(320 * frames)
    path = _TMP + "-spk.wav"
    mic = virtual.PcmSource(_Chunks(virtual.wav_header(16000, len(data)), data), 16000)
    dev = virtual.VirtualAudio(16000, mic=mic, speaker=virtual.PcmSink(open(path, "wb"), 16000),
                               realtime=False)
    echo = dsp.EchoControl(mode=dsp.ECHO_DUCK)
    sender = rtp.RtpSender(0xABCDEF01, 65530, 0xFFFFFE00)
    jb = jitter.JitterBuffer(g711.DECODERS[rtp.PT_L16], 320, 640, 16000, max_ms=100)  # 8 slots
    parsed = rtp.RtpPacket()

    async def media_loop():
        pcm = bytearray(640)
        pkt = bytearray(rtp.HEADER_LEN + 640)
        out = bytearray(640)
        payload = memoryview(pkt)[rtp.HEADER_LEN:]
        kinds = []
        for k in range(frames + 2):
            await dev.read_frame(pcm)
            echo.near_end(pcm, 320)
            sender.audio_into(pkt, rtp.PT_L16, k == 0, 320)
            g711.ENCODERS[rtp.PT_L16](pcm, payload, 320)
            parsed.parse_into(pkt, len(pkt))
            jb.put(pkt, parsed.payload_off, parsed.payload_len, parsed.seq, parsed.ts, 20 * k)
            kinds.append(jb.pop_into(out, 20 * k + 20))  # a frame of margin: starts at once
            echo.far_end(out, 320)
            await dev.write_frame(out)
        return kinds

    kinds = asyncio.run(media_loop())
    dev.close()
    try:
        with open(path, "rb") as f:
            rate, _ch, _bits, size = virtual.read_wav_header(f)
            ok = True
            for k in range(frames):  # frame by frame: no second copy of the whole stream
                ok = ok and f.read(640) == data[640 * k:640 * (k + 1)]
    finally:
        os.remove(path)
    assert rate == 16000 and size == 640 * (frames + 2)
    assert kinds[:frames] == [jitter.FRAME_OK] * frames
    assert ok
