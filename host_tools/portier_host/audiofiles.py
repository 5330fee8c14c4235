"""WAV files of any PCM kind for the host's audio ends (the softphone's --mic): read once,
mixed down to mono, converted to 16-bit and resampled to the call's rate, so a 44.1 kHz stereo
recording plays into an 8 kHz PCMU call. The board's own WAV reader (portier.hal.virtual)
takes exactly the call's format only: MicroPython has no room for this, the host has.

Pure Python (array and a running sum): no numpy at run time. Downsampling first averages twice
over the rate ratio (a triangular low-pass: a 48 kHz file's top octave comes into an 8 kHz call
over 30 dB down instead of folded in at full level; 3 kHz loses about 4 dB), then
interpolates linearly.
"""

import sys
from array import array
from itertools import accumulate, repeat
from operator import add, floordiv, sub

from . import paths

MAX_SECONDS = 600  # a microphone file is read whole; ten minutes is a long doorstep talk
_WIDTHS = (1, 2, 3, 4)  # 8-bit (unsigned), 16, 24 and 32-bit signed PCM


class AudioFileError(ValueError):
    pass


def load_pcm16(path, rate, max_seconds=MAX_SECONDS):
    """The WAV file at path as mono little-endian int16 PCM at `rate` (bytes)."""
    paths.use_firmware()
    from portier.hal.virtual import WavError, read_wav_header

    try:
        with open(path, "rb") as f:
            try:
                src_rate, channels, bits, size = read_wav_header(f)
            except WavError as e:
                raise AudioFileError("%s: %s" % (path, e)) from None
            width = bits // 8
            if bits % 8 or width not in _WIDTHS or not 1 <= channels <= 8:
                raise AudioFileError("%s: %d-bit %d-channel PCM is not supported"
                                     % (path, bits, channels))
            if not 1000 <= src_rate <= 384000:
                raise AudioFileError("%s: sample rate %d Hz" % (path, src_rate))
            limit = max_seconds * src_rate * width * channels
            want = limit if size in (0, 0xFFFFFFFF) else min(size, limit)
            data = f.read(want)
    except OSError as e:
        raise AudioFileError("%s: %s" % (path, e.strerror or e)) from None
    out = resample(to_mono16(data, channels, width), src_rate, rate)
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def to_mono16(data, channels, width):
    """Interleaved PCM frames (width bytes a sample) -> array('h') of their channel mean."""
    frame = channels * width
    n = len(data) // frame
    data = data[:n * frame]
    if width == 2:
        s = array("h")
        s.frombytes(data)
        if sys.byteorder != "little":
            s.byteswap()
    elif width == 1:  # WAV's 8-bit PCM is unsigned, centred on 128
        s = array("h", ((b - 128) << 8 for b in data))
    elif width == 4:
        wide = array("i")
        wide.frombytes(data)
        if sys.byteorder != "little":
            wide.byteswap()
        s = array("h", (v >> 16 for v in wide))
    else:  # 24-bit: no array type; the top two bytes are the 16-bit sample
        s = array("h", (int.from_bytes(data[i + 1:i + 3], "little", signed=True)
                        for i in range(0, len(data), 3)))
    if channels == 1:
        return s
    # each channel's share, then their sum, in C-level map() passes (a minute of 44.1 kHz
    # stereo: 0.9 s in a Python loop); each share fits int16, and so does their sum
    mixed = map(floordiv, s[0::channels], repeat(channels))
    for c in range(1, channels):
        mixed = map(add, mixed, map(floordiv, s[c::channels], repeat(channels)))
    return array("h", mixed)


def resample(x, src_rate, dst_rate):
    """array('h') at src_rate -> array('h') at dst_rate, the same duration."""
    if src_rate == dst_rate or not x:
        return array("h", x)
    if dst_rate < src_rate:
        k = max(1, round(src_rate / dst_rate))
        x = _box(_box(x, k), k)  # twice: a triangle, sidelobes twice as far down (dB)
    n_out = len(x) * dst_rate // src_rate
    step = src_rate / dst_rate
    last = len(x) - 1
    out = array("h", bytes(2 * n_out))
    for i in range(n_out):
        pos = i * step
        j = int(pos)
        a = x[j]
        b = x[j + 1] if j < last else a
        out[i] = int(a + (b - a) * (pos - j))
    return out


def _box(x, k):
    """Moving average over k samples (centred): the low-pass before decimating by about k.
    Output i averages x[max(0, i - k//2) : min(n, i - k//2 + k)] (floored). The full windows
    come from prefix sums in C-level passes (a minute of 44.1 kHz: 0.2 s, not 1.6 s)."""
    n = len(x)
    if k < 2 or n < k:
        return _box_slow(x, k)
    half = k // 2
    p = list(accumulate(x, initial=0))  # p[j] = sum(x[:j])
    head = [p[i + k - half] // (i + k - half) for i in range(half)]
    tail = [(p[n] - p[i - half]) // (n - i + half) for i in range(n - k + half + 1, n)]
    mid = map(floordiv, map(sub, p[k:], p[:n - k + 1]), repeat(k))  # windows x[j:j+k]
    out = array("h", head)
    out.extend(array("h", mid))
    out.extend(array("h", tail))
    return out


def _box_slow(x, k):
    """The same as _box() by a running sum, sample by sample: for short inputs, and the
    reference the tests hold _box() to."""
    if k < 2:
        return x
    half = k // 2
    n = len(x)
    out = array("h", bytes(2 * n))
    total = 0
    lo = 0
    hi = 0  # the window is x[lo:hi]
    for i in range(n):
        want_hi = min(n, i + k - half)
        while hi < want_hi:
            total += x[hi]
            hi += 1
        want_lo = max(0, i - half)
        while lo < want_lo:
            total -= x[lo]
            lo += 1
        out[i] = total // (hi - lo)
    return out
