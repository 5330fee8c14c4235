"""The softphone's audio ends: a microphone WAV of any rate, channel count and PCM width plays
into the call at the call's rate (it used to kill the call's audio unless it was exactly the
codec's format), the sound card through `sounddevice` when there is one (here a stand-in
module: no test machine has a card), and a clear reason when there is neither."""

import asyncio
import math
import os
import struct
import subprocess
import sys
import types
from array import array

import pytest

from portier_host import audiofiles, paths, phone

paths.use_firmware()


def _write_wav(path, rate, channels, width, samples):
    """samples: one list of floats in -1..1 per channel."""
    frames = bytearray()
    for i in range(len(samples[0])):
        for c in range(channels):
            v = samples[c][i]
            if width == 1:
                frames += bytes([int(128 + 127 * v)])
            else:
                full = (1 << (8 * width - 1)) - 1
                frames += int(v * full).to_bytes(width, "little", signed=True)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width, channels * width,
                      8 * width)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<I", 16) + fmt)
        f.write(b"data" + struct.pack("<I", len(frames)) + frames)


def _tone(rate, hz, seconds, amp=0.5):
    return [amp * math.sin(2 * math.pi * hz * i / rate) for i in range(int(rate * seconds))]


def _pcm(data):
    a = array("h")
    a.frombytes(data)
    return a


def _rms(a):
    return math.sqrt(sum(v * v for v in a) / max(1, len(a)))


def _zero_crossings(a):
    return sum(1 for i in range(1, len(a)) if (a[i - 1] < 0) != (a[i] < 0))


@pytest.mark.parametrize("rate,channels,width", [(44100, 2, 2), (48000, 1, 3), (22050, 1, 1),
                                                 (32000, 2, 4), (8000, 1, 2)])
def test_any_wav_becomes_the_calls_rate(tmp_path, rate, channels, width):
    path = str(tmp_path / "in.wav")
    tone = _tone(rate, 440, 1.0)
    _write_wav(path, rate, channels, width, [tone] * channels)
    out = _pcm(audiofiles.load_pcm16(path, 8000))
    assert abs(len(out) - 8000) <= 1
    # 440 Hz: 880 zero crossings a second, whatever the file's rate was
    assert abs(_zero_crossings(out) - 880) <= 10
    assert abs(_rms(out) - 0.5 * 32767 / math.sqrt(2)) < 0.05 * 32767  # level kept


def test_stereo_is_mixed_down_not_left_only(tmp_path):
    path = str(tmp_path / "lr.wav")
    _write_wav(path, 16000, 2, 2, [_tone(16000, 440, 0.5), [0.0] * 8000])
    out = _pcm(audiofiles.load_pcm16(path, 16000))
    assert abs(_rms(out) - 0.25 * 32767 / math.sqrt(2)) < 0.02 * 32767


def test_downsampling_filters_what_the_call_cannot_carry(tmp_path):
    """A 20 kHz tone in a 48 kHz file is above the 8 kHz call's band: the box low-pass takes
    it down by over 20 dB instead of folding it in at full level."""
    path = str(tmp_path / "hi.wav")
    _write_wav(path, 48000, 1, 2, [_tone(48000, 20000, 0.5)])
    out = _pcm(audiofiles.load_pcm16(path, 8000))
    assert _rms(out) < 0.5 * 32767 / math.sqrt(2) / 10 ** (20 / 20)


def test_a_bad_wav_names_the_file(tmp_path):
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    with pytest.raises(audiofiles.AudioFileError, match="bad.wav"):
        audiofiles.load_pcm16(str(path), 8000)
    with pytest.raises(audiofiles.AudioFileError, match="missing.wav"):
        phone.PhoneHal({"mic": str(tmp_path / "missing.wav")})


def test_phone_hal_plays_a_44k_wav_into_an_8k_call(tmp_path):
    path = str(tmp_path / "voice.wav")
    _write_wav(path, 44100, 2, 2, [_tone(44100, 300, 0.5)] * 2)
    hal = phone.PhoneHal({"mic": path, "speaker": str(tmp_path / "heard.wav"),
                          "realtime": False})
    assert "voice.wav" in hal.describe() and not hal.use_card
    dev = hal.audio(8000)
    buf = bytearray(dev.frame_bytes)
    got = array("h")

    async def read():
        for _ in range(10):
            await dev.read_frame(buf)
            got.extend(_pcm(bytes(buf)))
            await dev.write_frame(buf)

    asyncio.run(read())
    dev.close()
    assert len(got) == 1600 and _rms(got) > 0.3 * 32767 / math.sqrt(2)
    assert os.path.getsize(str(tmp_path / "heard.wav")) == 44 + 3200


class _FakeStream:
    def __init__(self, log, kind, **kw):
        self.log, self.kind, self.kw = log, kind, kw
        self.latency = 0.02
        log.append((kind, "open", kw["samplerate"], kw["blocksize"]))

    def start(self):
        self.log.append((self.kind, "start"))

    def stop(self):
        self.log.append((self.kind, "stop"))

    def close(self):
        self.log.append((self.kind, "close"))

    def read(self, n):
        return bytes(range(256)) * (2 * n // 256) + bytes(2 * n % 256), False

    def write(self, data):
        self.log.append((self.kind, "write", len(data)))


def _fake_sounddevice(devices):
    log = []
    sd = types.ModuleType("sounddevice")
    sd.query_devices = lambda: devices
    sd.RawInputStream = lambda **kw: _FakeStream(log, "in", **kw)
    sd.RawOutputStream = lambda **kw: _FakeStream(log, "out", **kw)
    sd.log = log
    return sd


def test_the_sound_card_is_used_when_there_is_one(monkeypatch):
    sd = _fake_sounddevice([{"name": "card", "max_input_channels": 1,
                             "max_output_channels": 2}])
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    hal = phone.PhoneHal({})
    assert hal.use_card and hal.describe() == "the sound card"
    dev = hal.audio(16000)
    buf = bytearray(dev.frame_bytes)

    async def one_frame():
        assert await dev.read_frame(buf) == 640
        assert await dev.write_frame(buf) == 640

    asyncio.run(one_frame())
    dev.close()
    assert ("in", "open", 16000, 320) in sd.log and ("out", "write", 640) in sd.log
    assert buf[:4] == bytes([0, 1, 2, 3])
    assert ("in", "close") in sd.log and ("out", "close") in sd.log


def test_no_card_and_no_files_is_said(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    hal = phone.PhoneHal({})
    assert hal.describe() is None and "portier-host[audio]" in hal.card_problem
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(
        [{"name": "hdmi", "max_input_channels": 0, "max_output_channels": 2}]))
    hal = phone.PhoneHal({})
    assert hal.describe() is None and "microphone" in hal.card_problem


def test_a_missing_mic_file_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "portier_host.cli", "phone", "--jid",
                           "anna:1@home", "--switchboard", "127.0.0.1:9", "--insecure", "--store",
                           str(tmp_path / "e2e"), "--mic", str(tmp_path / "nope.wav")],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "nope.wav" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_fast_box_filter_equals_the_running_sum_reference():
    import random

    rng = random.Random(7)
    for n in (0, 1, 5, 6, 7, 13, 100, 1001):
        for k in (1, 2, 3, 6, 7, 12):
            x = array("h", (rng.randint(-32768, 32767) for _ in range(n)))
            assert list(audiofiles._box(x, k)) == list(audiofiles._box_slow(x, k)), (n, k)
    for channels in (2, 3):  # the mix-down's map() passes: the mean of the channels, floored
        frames = [[rng.randint(-32768, 32767) for _ in range(channels)] for _ in range(50)]
        data = b"".join(v.to_bytes(2, "little", signed=True) for f in frames for v in f)
        assert list(audiofiles.to_mono16(data, channels, 2)) == [
            sum(v // channels for v in f) for f in frames]
