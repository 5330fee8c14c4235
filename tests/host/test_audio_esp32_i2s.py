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
    rx = dev._rx
    dev.set_direction(True)
    assert not rx._open  # the RX controller was released before TX took the bus
    assert dev._rx is None and dev._tx.mode == machine.I2S.TX
    buf[:] = b"\x01" * 320
    assert _run(dev.read_frame(buf)) == 320 and buf == bytes(320)  # speaking: mic is off
    assert _run(dev.write_frame(b"\x05" * 320)) == 320
    assert sink.getvalue().endswith(b"\x05" * 320)
    with pytest.raises(ValueError):
        _run(dev.read_frame(bytearray(10)))
    dev.close()


# ---- the shared bus in a call: the board file's echo control switches it ----------------------

class _PacedStream:
    """An asyncio stream over a shim I2S controller that takes as long as the DMA would."""

    def __init__(self, dev, extra=None):
        self.dev = dev
        self.per_s = dev.rate * (4 if dev.mode == dev.RX else 2)  # bytes per second

    async def readinto(self, buf):
        await _real_asyncio.sleep(len(buf) / self.per_s)
        return self.dev.readinto(buf)

    def write(self, buf):
        self._n = self.dev.write(buf)

    async def drain(self):
        await _real_asyncio.sleep(self._n / self.per_s)


import asyncio as _real_asyncio  # noqa: E402  (the fixtures above replace it for hal.esp32 only)


@pytest.fixture()
def esp32_paced(monkeypatch):
    fake = types.ModuleType("asyncio")
    fake.StreamReader = _PacedStream
    fake.StreamWriter = _PacedStream
    fake.sleep_ms = lambda ms: _real_asyncio.sleep(ms / 1000)
    monkeypatch.setitem(sys.modules, "asyncio", fake)
    sys.modules.pop("portier.hal.esp32", None)
    mod = importlib.import_module("portier.hal.esp32")
    monkeypatch.setitem(sys.modules, "asyncio", _real_asyncio)
    yield mod
    sys.modules.pop("portier.hal.esp32", None)


def _atom_echo():
    import json
    import os

    with open(os.path.join(paths.REPO, "boards", "m5stack-atom-echo.json")) as f:
        return json.load(f)


def _shared_bus_call(esp32, far_wav, ms=1600):
    """The Atom Echo's door (its board file's I2S wiring and echo control, on the machine shim)
    in a call through the real relay with a phone whose microphone plays far_wav."""
    import os

    from portier.hal.virtual import VirtualAudio
    from portier.net.media import MediaSession
    from portier.wire import relaybind
    from portier_host.relay import Relay, call_tokens

    board = _atom_echo()
    sink = io.BytesIO()
    machine.attach_i2s(board["i2s"]["mic"]["id"], source=io.BytesIO(bytes(4 * 16000 * 3)),
                       sink=sink)
    secret = b"relay-secret-for-tests-0123456789"
    key = bytes(range(32))
    call = "A1B2C3D4E5F60718293A4B5C6D7E8F90"

    async def main():
        relay = await Relay.start(secret, "127.0.0.1", 0)
        token, phone_token = call_tokens(secret, 600, "door@h", ["phone@h"])
        host, port = relay.address
        try:
            dev = esp32.I2sAudio(board["i2s"]["mic"], board["i2s"]["amp"])
            door = MediaSession("door@h", "phone@h", call, key, ("pcmu", 8000), host, port, token,
                                relaybind.PID_CALLER, dev,
                                echo=dsp.echo_control(board["audio"]["echo_control"]))
            far = VirtualAudio.from_paths(16000, far_wav, None, realtime=True)
            phone = MediaSession("phone@h", "door@h", call, key, ("pcmu", 8000), host, port,
                                 phone_token, relaybind.PID_CALLEE, far)
            tasks = [_real_asyncio.ensure_future(s.run()) for s in (door, phone)]
            await _real_asyncio.sleep(ms / 1000)
            for s in (door, phone):
                s.stop()
            await _real_asyncio.gather(*tasks)
            far.close()
            dev.close()
            return door
        finally:
            relay.close()

    far_wav = far_wav and os.path.join(paths.REPO, "bench", "assets", far_wav)
    door = _real_asyncio.run(main())
    return door, sink.getvalue()


def _loudest(pcm):
    return max((abs(int.from_bytes(pcm[i:i + 2], "little", signed=True))
                for i in range(0, len(pcm) - 1, 2)), default=0)


def test_shared_bus_speaker_is_switched_on_when_the_far_end_talks(esp32_paced):
    door, played = _shared_bus_call(esp32_paced, "female-16k.wav")
    assert door.error is None and door.stats.received > 20
    assert door.core.echo.mode == dsp.ECHO_HALF  # from the board file
    assert door.bus_switches >= 1  # listening -> speaking
    assert _loudest(played) > 2000, "the resident's voice reached the amplifier"


def test_shared_bus_stays_listening_while_the_far_end_is_silent(esp32_paced):
    door, played = _shared_bus_call(esp32_paced, None)
    assert door.error is None and door.stats.received > 20
    assert door.bus_switches == 0 and played == b""  # the amplifier was never on the bus
