# The ESP32 I2S audio HAL, run on CPython against the machine shim with a stand-in for
# MicroPython's asyncio streams that returns partial counts (as I2S in asyncio mode does).
import importlib
import io
import sys
import types

import pytest

from portier_host import paths

paths.use_firmware()

import machine  # noqa: E402  (the shim)

from portier.media import dsp  # noqa: E402


class _Stream:
    def __init__(self, dev, extra=None, step=300):
        self.dev = dev
        self.step = step
        self.reads = 0

    async def readinto(self, buf):
        self.reads += 1
        view = memoryview(buf)[: self.step]
        return self.dev.readinto(view)

    def write(self, buf):
        self.dev.write(buf)

    async def drain(self):
        return None


async def _sleep_ms(ms):
    return None


@pytest.fixture()
def esp32(monkeypatch):
    fake = types.ModuleType("asyncio")
    fake.StreamReader = _Stream
    fake.StreamWriter = _Stream
    fake.sleep_ms = _sleep_ms
    monkeypatch.setitem(sys.modules, "asyncio", fake)
    sys.modules.pop("portier.hal.esp32", None)
    mod = importlib.import_module("portier.hal.esp32")
    yield mod
    sys.modules.pop("portier.hal.esp32", None)


def _run(coro):
    # The module under test holds the fake asyncio; drive the coroutine by hand.
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("coroutine suspended unexpectedly")


def _mic_words(n):
    out = bytearray()
    for i in range(n):
        s = (i * 7919 % 20001 - 10000) * 40  # 24-bit samples
        out += ((s & 0xFFFFFF) << 8).to_bytes(4, "little")
    return bytes(out)


MIC = {"id": 0, "sck": 32, "ws": 25, "sd": 33}
AMP = {"id": 1, "sck": 26, "ws": 27, "sd": 22}


def test_full_duplex_frames_are_whole_and_conditioned(esp32):
    words = _mic_words(640)
    sink = io.BytesIO()
    machine.attach_i2s(0, source=io.BytesIO(words))
    machine.attach_i2s(1, sink=sink)
    dev = esp32.I2sAudio(MIC, AMP, mic_gain_db=12)
    assert not dev.half_duplex and dev.frame_bytes == 640 and dev.rate == esp32.RATE == 16000
    assert dev._rx.bits == 32 and dev._rx.ibuf == esp32.RX_IBUF and dev._tx.ibuf == esp32.TX_IBUF
    buf = bytearray(640)
    want = bytearray(640)
    ref = dsp.MicConditioner(gain_db=12)
    for k in range(2):
        assert _run(dev.read_frame(buf)) == 640
        ref.process(words[1280 * k: 1280 * (k + 1)], want, 320)
        assert buf == want
    assert dev._reader.reads >= 2 * (1280 // 300)  # the partial reads were looped
    primed = sink.getvalue()
    assert primed == bytes(512)  # one DMA buffer of silence queued at start
    frame = bytes(range(256)) * 2 + bytes(128)
    assert _run(dev.write_frame(frame)) == 640
    assert sink.getvalue()[512:] == frame
    assert dev.latency_ms() == (8, 16)
    dev.close()


def test_shared_bus_is_half_duplex(esp32):
    sink = io.BytesIO()
    machine.attach_i2s(0, source=io.BytesIO(_mic_words(320)), sink=sink)
    dev = esp32.I2sAudio(MIC, MIC, rate=8000)
    assert dev.half_duplex and dev._tx is None
    buf = bytearray(320)
    assert _run(dev.write_frame(bytes(320))) == 320  # listening: nothing is played
    assert _run(dev.read_frame(buf)) == 320
    dev.set_direction(True)
    machine.attach_i2s(0, source=None, sink=sink)  # the shim forgets wiring on deinit()
    assert dev._rx is None and dev._tx.mode == machine.I2S.TX
    buf[:] = b"\x01" * 320
    assert _run(dev.read_frame(buf)) == 320 and buf == bytes(320)  # speaking: mic is off
    assert _run(dev.write_frame(b"\x05" * 320)) == 320
    assert sink.getvalue().endswith(b"\x05" * 320)
    with pytest.raises(ValueError):
        _run(dev.read_frame(bytearray(10)))
    dev.close()
