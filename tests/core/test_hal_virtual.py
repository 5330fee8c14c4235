# The host audio HAL: WAV parsing/writing (bounded, one error class), frame I/O through
# VirtualAudio, and the partial-read/write loops the ESP32 HAL relies on.
import asyncio
import os
import struct

from coretest import assert_raises
from portier.hal import audio, virtual

_TMP = "/tmp/portier-hal-test-%d" % os.getpid() if hasattr(os, "getpid") else "/tmp/portier-hal-test"


class _Bytes:
    """A minimal readable file object over bytes (io.BytesIO exists on both, this is smaller)."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def read(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def tell(self):
        return self.pos

    def seek(self, pos):
        self.pos = pos

    def close(self):
        pass


def _pcm(n, start=0):
    out = bytearray(2 * n)
    for i in range(n):
        v = (start + i) * 37 & 0xFFFF
        out[2 * i], out[2 * i + 1] = v & 0xFF, v >> 8
    return bytes(out)


def _run(coro):
    return asyncio.run(coro)


def test_wav_header_round_trip_and_layout():
    h = virtual.wav_header(16000, 640)
    assert len(h) == 44 and h[:4] == b"RIFF" and h[8:16] == b"WAVEfmt "
    assert struct.unpack("<IHHIIHH", h[16:36]) == (16, 1, 1, 16000, 32000, 2, 16)
    assert virtual.read_wav_header(_Bytes(h + bytes(640))) == (16000, 1, 16, 640)


def test_wav_with_extra_chunks_and_extensible_fmt():
    fmt = struct.pack("<HHIIHH", 0xFFFE, 1, 8000, 16000, 2, 16) + struct.pack("<HHI", 22, 16, 4)
    fmt += struct.pack("<H", 1) + bytes(14)  # sub-format GUID starting with PCM (1)
    body = b"LIST" + struct.pack("<I", 5) + b"abcde\x00" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    data = _pcm(10)
    f = _Bytes(b"RIFF" + struct.pack("<I", 0) + b"WAVE" + body + b"data" + struct.pack("<I", 20) + data)
    assert virtual.read_wav_header(f) == (8000, 1, 16, 20)
    assert f.read(20) == data


def test_bad_wavs_are_refused():
    good_fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    cases = [
        b"RIFX" + bytes(8),
        b"RIFF" + bytes(4) + b"WAVE",  # no chunks at all
        b"RIFF" + bytes(4) + b"WAVE" + b"data" + bytes(4),  # data before fmt
        b"RIFF" + bytes(4) + b"WAVE" + b"fmt " + struct.pack("<I", 400) + bytes(400),
        b"RIFF" + bytes(4) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, 8000, 0, 4, 32),
        b"RIFF" + bytes(4) + b"WAVE" + (b"junk" + struct.pack("<I", 0)) * 70 + good_fmt,
        b"RIFF" + bytes(4) + b"WAVE" + b"junk" + struct.pack("<I", 100) + bytes(10),
    ]
    for i, blob in enumerate(cases):
        e = assert_raises(virtual.WavError, virtual.read_wav_header, _Bytes(blob))
        assert isinstance(e, ValueError), i
    ok = b"RIFF" + bytes(4) + b"WAVE" + good_fmt + b"data" + struct.pack("<I", 4) + bytes(4)
    assert_raises(virtual.WavError, virtual.PcmSource, _Bytes(ok), 16000)  # wrong rate


def test_virtual_audio_reads_wav_frames_then_silence():
    data = _pcm(400)
    src = virtual.PcmSource(_Bytes(virtual.wav_header(8000, len(data)) + data + b"LIST\x04\0\0\0xxxx"), 8000)
    dev = virtual.VirtualAudio(8000, mic=src, realtime=False)
    buf = bytearray(dev.frame_bytes)
    frames = []
    for _ in range(4):
        assert _run(dev.read_frame(buf)) == 320
        frames.append(bytes(buf))
    assert frames[0] == data[:320] and frames[1] == data[320:640]
    assert frames[2] == data[640:800] + bytes(160)  # the trailing LIST chunk is not audio
    assert frames[3] == bytes(320) and src.eof
    assert_raises(ValueError, _run, dev.read_frame(bytearray(100)))


def test_looping_source_and_silent_mic():
    data = _pcm(100)
    src = virtual.PcmSource(_Bytes(virtual.wav_header(8000, len(data)) + data), 8000, loop=True)
    buf = bytearray(320)
    assert src.read_into(buf, 320) == 320
    assert bytes(buf) == data + data[:120]
    dev = virtual.VirtualAudio(16000, realtime=False)
    buf = bytearray(640)
    buf[0] = 9
    assert _run(dev.read_frame(buf)) == 640 and bytes(buf) == bytes(640)


def test_speaker_wav_file_round_trip():
    path = _TMP + ".wav"
    dev = virtual.VirtualAudio.from_paths(16000, speaker_path=path, realtime=False)
    frames = [_pcm(320, k) for k in range(3)]
    for fr in frames:
        assert _run(dev.write_frame(fr)) == 640
    dev.close()
    try:
        back = virtual.VirtualAudio.from_paths(16000, mic_path=path, realtime=False)
        buf = bytearray(640)
        for fr in frames:
            _run(back.read_frame(buf))
            assert bytes(buf) == fr
        back.close()
    finally:
        os.remove(path)


def test_raw_pipe_style_source_and_sink():
    path = _TMP + ".raw"
    sink = virtual.PcmSink(open(path, "wb"), 8000, wav=False)
    sink.write(_pcm(160), 320)
    sink.close()
    try:
        with open(path, "rb") as f:
            assert f.read() == _pcm(160)
        src = virtual.PcmSource(open(path, "rb"), 8000, wav=False)
        buf = bytearray(400)
        assert src.read_into(buf, 400) == 320 and bytes(buf) == _pcm(160) + bytes(80)
        src.close()
    finally:
        os.remove(path)


class _Trickle:
    """An asyncio stream that hands out at most `step` bytes per call, like I2S in asyncio mode."""

    def __init__(self, data, step):
        self.data = data
        self.step = step
        self.pos = 0
        self.calls = 0
        self.written = bytearray()

    async def readinto(self, buf):
        self.calls += 1
        n = min(self.step, len(buf), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def write(self, buf):
        self.written += bytes(buf)

    async def drain(self):
        return None


def test_read_full_loops_over_partial_reads():
    data = _pcm(200)
    s = _Trickle(data, 96)
    buf = bytearray(320)
    assert _run(audio.read_full(s, buf, 320)) == 320
    assert bytes(buf) == data[:320] and s.calls == 4
    buf2 = bytearray(200)
    assert _run(audio.read_full(s, buf2, 80)) == 80 and bytes(buf2[:80]) == data[320:]
    assert_raises(audio.AudioError, _run, audio.read_full(s, buf, 320))  # the stream ended
    w = _Trickle(b"", 1)
    assert _run(audio.write_full(w, data, 100)) == 100 and bytes(w.written) == data[:100]


def test_frame_sizes():
    assert audio.frame_samples(8000) == 160 and audio.frame_samples(16000) == 320
    assert_raises(ValueError, audio.frame_samples, 44100)
    dev = virtual.VirtualAudio(16000, realtime=False)
    assert (dev.frame_samples, dev.frame_bytes, dev.latency_ms()) == (320, 640, (0, 0))

