# The audio interface the app uses, on every board and on the host:
#
#   dev = <board HAL>.open_audio(...)        # hal/esp32.py I2sAudio, hal/virtual.py VirtualAudio
#   n = await dev.read_frame(pcm)            # one frame of microphone PCM, conditioned
#   n = await dev.write_frame(pcm)           # one frame of speaker PCM
#
# PCM is little-endian signed 16-bit mono at dev.rate, dev.frame_bytes per 20 ms frame. Both
# calls complete whole frames (looping over the partial reads/writes of asyncio streams) and
# return the byte count. Echo control needs both directions at once, so it runs in the media
# loop (portier.media.dsp.EchoControl), not here.
from micropython import const

FRAME_MS = const(20)


class AudioError(OSError):
    pass


def frame_samples(rate, frame_ms=FRAME_MS):
    if rate not in (8000, 16000):
        raise ValueError("audio rate %r: 8000 or 16000" % (rate,))
    return rate * frame_ms // 1000


class AudioDevice:
    """What every audio HAL provides; subclasses fill in _read/_write and the buffering."""

    def __init__(self, rate, frame_ms=FRAME_MS):
        self.rate = rate
        self.frame_samples = frame_samples(rate, frame_ms)
        self.frame_bytes = 2 * self.frame_samples
        self.frame_ms = frame_ms
        self.half_duplex = False  # one direction at a time (shared I2S bus)

    def _check(self, buf):
        if len(buf) < self.frame_bytes:
            raise ValueError("frame buffer of %d bytes, need %d" % (len(buf), self.frame_bytes))

    async def read_frame(self, buf):
        raise NotImplementedError

    async def write_frame(self, buf):
        raise NotImplementedError

    def latency_ms(self):
        """(capture, playback) buffering this device adds, in ms (a model for real boards)."""
        return (0, 0)

    def close(self):
        pass


async def read_full(stream, buf, nbytes):
    """Loops stream.readinto() until buf[:nbytes] is full; asyncio I2S returns partial counts.

    A whole read costs no allocation; each partial read costs one small memoryview.
    """
    n = await stream.readinto(buf) if len(buf) == nbytes else 0
    if n is None:
        n = 0
    if n >= nbytes:
        return nbytes
    mv = memoryview(buf)
    while n < nbytes:
        got = await stream.readinto(mv[n:nbytes])
        if not got:
            raise AudioError("audio input closed")
        n += got
    return nbytes


async def write_full(stream, buf, nbytes):
    """Queues buf[:nbytes] on an asyncio StreamWriter-like object and waits until it is taken."""
    if len(buf) == nbytes:
        stream.write(buf)
    else:
        stream.write(memoryview(buf)[:nbytes])
    await stream.drain()
    return nbytes
