# The virtual door's acoustics (simulator, virtual board): a door unit's speaker sits a few cm
# from its microphone, so what it plays comes back into the microphone. AcousticPath wraps an
# audio device (hal/virtual.py VirtualAudio) and adds to every microphone frame the speaker's
# output of delay_ms before, gain_db down, followed by a short reverberant tail (reflections
# every _TAIL_STEP_MS, each _TAIL_STEP_Q12 weaker): the path that portier.media.dsp.EchoControl
# has to deal with on a real board. With shared_bus it also behaves as a board whose microphone
# and amplifier share one I2S bus (M5Stack Atom Echo): set_direction(True) gives the bus to the
# speaker (the microphone hears nothing), set_direction(False) to the microphone (nothing is
# played; the speaker's recording gets silence, so it stays in step with the call).
#
# Timing: the speaker's frames go into a ring of samples as they are written; a microphone frame
# read now covers the last frame's worth of that timeline, shifted by the delay. The two
# directions run on separate 20 ms clocks, so the echo also arrives up to one frame later than
# delay_ms, as a board's I2S buffering adds to its acoustic delay.
from array import array

from micropython import const

from .audio import AudioDevice

_TAIL_TAPS = const(4)  # reflections after the direct path
_TAIL_STEP_MS = const(2)
_TAIL_STEP_Q12 = const(2052)  # -6 dB per reflection
_UNITY_Q12 = const(4096)
MAX_DELAY_MS = const(10)


def _db_q12(db):
    return int(_UNITY_Q12 * 10 ** (db / 20) + 0.5)


class AcousticPath(AudioDevice):
    """dev: the device to wrap; delay_ms (1..10) and gain_db (-40..0): the direct path from
    speaker to microphone (gain_db None: no acoustic path); shared_bus: one direction at a
    time, switched by set_direction()."""

    def __init__(self, dev, delay_ms=4, gain_db=-10, shared_bus=False):
        if not 1 <= delay_ms <= MAX_DELAY_MS:
            raise ValueError("echo delay_ms %r: 1..%d" % (delay_ms, MAX_DELAY_MS))
        if gain_db is not None and not -40 <= gain_db <= 0:
            raise ValueError("echo gain_db %r: -40..0" % (gain_db,))
        super().__init__(dev.rate, dev.frame_ms)
        self.dev = dev
        self.realtime = getattr(dev, "realtime", True)
        self.half_duplex = shared_bus
        self.speaking = not shared_bus  # a shared bus starts listening, as hal/esp32.py's
        per_ms = dev.rate // 1000
        taps = []
        gain = _db_q12(gain_db) if gain_db is not None else 0
        for k in range(_TAIL_TAPS + 1 if gain_db is not None else 0):
            taps.append(((delay_ms + k * _TAIL_STEP_MS) * per_ms, gain))
            gain = (gain * _TAIL_STEP_Q12) >> 12
        self._taps = taps
        n = self.frame_samples
        self._size = n + (taps[-1][0] if taps else 0) + 1
        self._ring = array("h", bytes(2 * self._size))
        self._w = 0  # next ring slot the speaker writes
        self._silence = bytearray(self.frame_bytes)
        self.direction_changes = 0

    def set_direction(self, speaking):
        if not self.half_duplex or speaking == self.speaking:
            return
        self.speaking = speaking
        self.direction_changes += 1

    async def write_frame(self, buf):
        self._check(buf)
        played = buf if self.speaking else self._silence
        ring, size, w = self._ring, self._size, self._w
        for i in range(self.frame_samples):
            v = played[2 * i] | (played[2 * i + 1] << 8)
            ring[w] = v - 0x10000 if v & 0x8000 else v
            w += 1
            if w == size:
                w = 0
        self._w = w
        return await self.dev.write_frame(played)

    async def read_frame(self, buf):
        n = await self.dev.read_frame(buf)
        if self.half_duplex and self.speaking:  # the bus drives the speaker: the mic is off
            for i in range(self.frame_bytes):
                buf[i] = 0
            return n
        ring, size = self._ring, self._size
        start = self._w - self.frame_samples
        for i in range(self.frame_samples):
            v = buf[2 * i] | (buf[2 * i + 1] << 8)
            acc = (v - 0x10000 if v & 0x8000 else v) << 12
            for d, g in self._taps:
                acc += g * ring[(start + i - d) % size]
            v = acc >> 12
            if v > 32767:
                v = 32767
            elif v < -32768:
                v = -32768
            buf[2 * i] = v & 0xFF
            buf[2 * i + 1] = (v >> 8) & 0xFF
        return n

    def latency_ms(self):
        return self.dev.latency_ms()

    def close(self):
        self.dev.close()
