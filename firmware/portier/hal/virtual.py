# Audio for host runs (simulator, virtual board, phones): the microphone is a WAV file, a raw
# PCM pipe or silence; the speaker is a WAV file, a raw pipe or nothing. Runs on MicroPython
# and CPython alike (no `wave` module on the board's VM, so the RIFF parsing is here).
import asyncio
import struct
import time

from micropython import const

from .audio import FRAME_MS, AudioDevice

_MAX_CHUNKS = const(64)  # chunks before "data" (LIST, fact, ...); a parser must stop somewhere
_MAX_FMT = const(40)  # WAVE_FORMAT_EXTENSIBLE's fmt chunk is 40 bytes
_FMT_PCM = const(1)
_FMT_EXTENSIBLE = const(0xFFFE)


class WavError(ValueError):
    pass


def read_wav_header(f):
    """Reads up to the data chunk; returns (rate, channels, bits, data_bytes)."""
    head = f.read(12)
    if len(head) != 12 or head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    fmt = None
    for _ in range(_MAX_CHUNKS):
        hdr = f.read(8)
        if len(hdr) != 8:
            raise WavError("no data chunk")
        cid = hdr[0:4]
        size = struct.unpack("<I", hdr[4:8])[0]
        if cid == b"data":
            if fmt is None:
                raise WavError("data before fmt")
            return fmt[0], fmt[1], fmt[2], size
        if cid == b"fmt ":
            if not 16 <= size <= _MAX_FMT:
                raise WavError("fmt chunk of %d bytes" % size)
            body = f.read(size + (size & 1))
            if len(body) < size:
                raise WavError("fmt chunk cut short")
            tag, channels, rate, _brate, _align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _FMT_EXTENSIBLE and size >= 26:
                tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID's first field
            if tag != _FMT_PCM:
                raise WavError("WAV format tag %d, need PCM" % tag)
            fmt = (rate, channels, bits)
        else:
            skip = size + (size & 1)
            if skip > 1 << 24:
                raise WavError("chunk of %d bytes" % size)
            while skip:  # read, not seek: the source may be a pipe
                got = len(f.read(min(skip, 512)))
                if not got:
                    raise WavError("chunk cut short")
                skip -= got
    raise WavError("more than %d chunks before data" % _MAX_CHUNKS)


def wav_header(rate, data_bytes, channels=1, bits=16):
    align = channels * bits // 8
    return b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, _FMT_PCM, channels, rate, rate * align, align, bits) + b"data" + struct.pack(
        "<I", data_bytes)


class PcmSource:
    """Mono int16 PCM frames from a file object (a WAV file or a raw pipe).

    At the end it loops (loop=True) or delivers silence; `eof` tells which happened.
    """

    def __init__(self, f, rate, wav=True, loop=False):
        self._f = f
        self._loop = loop
        self._start = 0
        self._size = -1  # data bytes, -1 when unknown (raw pipe, streaming WAV)
        self._left = -1
        self.eof = False
        if wav:
            wrate, channels, bits, size = read_wav_header(f)
            if (wrate, channels, bits) != (rate, 1, 16):
                raise WavError("WAV is %d Hz, %d ch, %d bit; need %d Hz mono 16 bit"
                               % (wrate, channels, bits, rate))
            if 0 < size < 0xFFFFFFFF:
                self._size = self._left = size
        if loop:
            try:
                self._start = f.tell()
            except (AttributeError, OSError):
                self._loop = False  # a pipe cannot rewind

    def read_into(self, buf, nbytes):
        """Fills buf[:nbytes]; silence after the end. Returns the bytes of real audio."""
        got = 0
        rewound = False
        while got < nbytes and not self.eof:
            want = nbytes - got
            if 0 <= self._left < want:
                want = self._left
            chunk = self._f.read(want) if want else b""
            n = len(chunk) if chunk else 0
            if n:
                buf[got:got + n] = chunk
                got += n
                if self._left >= 0:
                    self._left -= n
                rewound = False
            elif self._loop and not rewound:
                self._f.seek(self._start)
                self._left = self._size
                rewound = True
            else:
                self.eof = True
        real = got - (got & 1)  # never half a sample
        for i in range(real, nbytes):
            buf[i] = 0
        return real

    def close(self):
        self._f.close()


class PcmSink:
    """Writes int16 frames to a file object; a WAV sink fixes up its sizes on close()."""

    def __init__(self, f, rate, wav=True):
        self._f = f
        self._wav = wav
        self._rate = rate
        self.bytes_written = 0
        if wav:
            f.write(wav_header(rate, 0))

    def write(self, buf, nbytes):
        self._f.write(buf if len(buf) == nbytes else memoryview(buf)[:nbytes])
        self.bytes_written += nbytes

    def close(self):
        if self._wav:
            try:
                self._f.seek(0)
                self._f.write(wav_header(self._rate, self.bytes_written))
            except (AttributeError, OSError):
                pass  # a pipe: the reader sees a header with size 0, as streaming WAV writers do
        self._f.close()


class VirtualAudio(AudioDevice):
    """The host's audio HAL. With realtime=True each direction keeps a 20 ms frame clock
    (asyncio sleeps), as the I2S DMA does on a board; with False it runs as fast as it is
    driven (tests, batch runs)."""

    def __init__(self, rate, mic=None, speaker=None, realtime=True, frame_ms=FRAME_MS):
        super().__init__(rate, frame_ms)
        self.mic = mic
        self.speaker = speaker
        self.realtime = realtime
        self._next_rx = None
        self._next_tx = None
        self.frames_read = 0
        self.frames_written = 0

    @classmethod
    def from_paths(cls, rate, mic_path=None, speaker_path=None, realtime=True, loop=False):
        mic = PcmSource(open(mic_path, "rb"), rate, mic_path.endswith(".wav"), loop) if mic_path else None
        spk = PcmSink(open(speaker_path, "wb"), rate, speaker_path.endswith(".wav")) if speaker_path else None
        return cls(rate, mic, spk, realtime)

    async def _pace(self, due):
        if not self.realtime:
            return None
        now = time.ticks_ms()
        if due is None:
            due = now
        wait = time.ticks_diff(due, now)
        if wait > 0:
            await asyncio.sleep(wait / 1000)
        elif wait < -5 * self.frame_ms:
            due = now  # we fell far behind (a debugger, a slow host): do not burst to catch up
        return time.ticks_add(due, self.frame_ms)

    async def read_frame(self, buf):
        self._check(buf)
        self._next_rx = await self._pace(self._next_rx)
        if self.mic is None:
            for i in range(self.frame_bytes):
                buf[i] = 0
        else:
            self.mic.read_into(buf, self.frame_bytes)
        self.frames_read += 1
        return self.frame_bytes

    async def write_frame(self, buf):
        self._check(buf)
        self._next_tx = await self._pace(self._next_tx)
        if self.speaker is not None:
            self.speaker.write(buf, self.frame_bytes)
        self.frames_written += 1
        return self.frame_bytes

    def close(self):
        for end in (self.mic, self.speaker):
            if end is not None:
                end.close()
        self.mic = self.speaker = None
