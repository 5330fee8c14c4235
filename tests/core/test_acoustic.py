# The virtual door's acoustic path (portier.hal.acoustic): what the speaker plays comes back
# into the microphone delay_ms later, gain_db down, with a decaying tail; a shared bus carries
# one direction at a time.
from coretest import assert_raises

from portier.hal.acoustic import AcousticPath
from portier.hal.audio import AudioDevice

_N = 320  # one 20 ms frame at 16 kHz


class _Dev(AudioDevice):
    """Microphone frames from a list of sample lists; speaker frames kept."""

    def __init__(self, mic_frames):
        super().__init__(16000)
        self.mic = list(mic_frames)
        self.played = []

    async def read_frame(self, buf):
        samples = self.mic.pop(0) if self.mic else [0] * _N
        for i, v in enumerate(samples):
            buf[2 * i] = v & 0xFF
            buf[2 * i + 1] = (v >> 8) & 0xFF
        return self.frame_bytes

    async def write_frame(self, buf):
        self.played.append(bytes(buf[:self.frame_bytes]))
        return self.frame_bytes


def _run(coro):
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("suspended")


def _frame(samples):
    buf = bytearray(2 * _N)
    for i, v in samples:
        buf[2 * i] = v & 0xFF
        buf[2 * i + 1] = (v >> 8) & 0xFF
    return buf


def _s16(buf, i):
    v = buf[2 * i] | (buf[2 * i + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v


def test_an_impulse_returns_delayed_and_attenuated_with_a_tail():
    path = AcousticPath(_Dev([]), delay_ms=5, gain_db=-6)
    _run(path.write_frame(_frame([(100, 20000)])))
    mic = bytearray(2 * _N)
    # The mic frame read now spans the frame just played: sample i hears speaker sample i - d.
    _run(path.read_frame(mic))
    heard = [(i, _s16(mic, i)) for i in range(_N) if _s16(mic, i)]
    d = 5 * 16
    assert heard[0] == (100 + d, 10024)  # 20000 at -6 dB (Q12 gain 2052)
    assert [i - 100 - d for i, _ in heard] == [0, 32, 64, 96, 128]  # a reflection every 2 ms
    levels = [v for _, v in heard]
    assert all(levels[k + 1] < levels[k] // 1.9 for k in range(4))  # each 6 dB weaker


def test_echo_adds_to_the_visitor_and_saturates():
    path = AcousticPath(_Dev([[1000] * _N, [30000] * _N]), delay_ms=1, gain_db=0)
    _run(path.write_frame(_frame([(i, 2000) for i in range(_N)])))
    mic = bytearray(2 * _N)
    _run(path.read_frame(mic))
    assert _s16(mic, 0) == 1000  # before the delay: the visitor alone
    assert _s16(mic, _N - 1) > 1000 + 2000  # the direct path plus its tail
    _run(path.write_frame(_frame([(i, 30000) for i in range(_N)])))
    _run(path.read_frame(mic))
    assert _s16(mic, _N - 1) == 32767  # clipped, not wrapped


def test_shared_bus_carries_one_direction_at_a_time():
    dev = _Dev([[500] * _N, [500] * _N, [500] * _N])
    path = AcousticPath(dev, delay_ms=3, gain_db=-10, shared_bus=True)
    assert path.half_duplex and not path.speaking  # listening first, as a board's bus
    loud = _frame([(i, 8000) for i in range(_N)])
    mic = bytearray(2 * _N)
    _run(path.write_frame(loud))
    assert dev.played[-1] == bytes(2 * _N)  # listening: nothing played (and nothing echoes)
    _run(path.read_frame(mic))
    assert _s16(mic, _N - 1) == 500
    path.set_direction(True)
    _run(path.write_frame(loud))
    assert dev.played[-1] == bytes(loud)
    _run(path.read_frame(mic))
    assert mic == bytes(2 * _N)  # speaking: the microphone is off the bus
    path.set_direction(False)
    _run(path.read_frame(mic))
    # The visitor again, and the echo of the frame just played (not of the silence before it).
    assert _s16(mic, 0) == 500 and _s16(mic, _N - 1) > 500 + 2000
    assert path.direction_changes == 2


def test_bounds():
    assert_raises(ValueError, AcousticPath, _Dev([]), 0, -10)
    assert_raises(ValueError, AcousticPath, _Dev([]), 11, -10)
    assert_raises(ValueError, AcousticPath, _Dev([]), 4, 3)
    quiet = AcousticPath(_Dev([[7] * _N]), 4, None)  # a bus without an acoustic path
    _run(quiet.write_frame(_frame([(i, 9000) for i in range(_N)])))
    mic = bytearray(2 * _N)
    _run(quiet.read_frame(mic))
    assert _s16(mic, 0) == 7 and _s16(mic, _N - 1) == 7
