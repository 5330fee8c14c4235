# Pure-Python twins of _dsp_viper.py, the reference the viper leaves are tested against. CPython
# runs these; so does a MicroPython build without the native emitter. Kept out of dsp.py so a
# board with viper never loads them.
from micropython import const

_X_BIAS = const(0x1000000)  # state biases, see _dsp_viper.mic_to_pcm
_Y_BIAS = const(0x8000000)


def _s16(b, i):
    x = b[2 * i] | (b[2 * i + 1] << 8)
    return x - 0x10000 if x & 0x8000 else x


def _put16(b, i, v):
    b[2 * i] = v & 0xFF
    b[2 * i + 1] = (v >> 8) & 0xFF


def mic_to_pcm(src, dst, n, st):
    x1 = st[0] - _X_BIAS
    y1 = st[1] - _Y_BIAS
    g = st[2]
    knee = st[3]
    room = 32767 - knee
    hits = 0
    for i in range(n):
        x = src[4 * i + 1] | (src[4 * i + 2] << 8) | (src[4 * i + 3] << 16)
        if x & 0x800000:
            x -= 0x1000000
        y = y1 + x - x1 - (y1 >> 8)
        x1 = x
        y1 = y
        v = y >> 6
        if v > 262143:
            v = 262143
        elif v < -262143:
            v = -262143
        v = (v * g) >> 10
        a = -v if v < 0 else v
        if a > knee:
            e = a - knee
            if e > 131072:
                e = 131072
            a = knee + (e * room) // (e + room)
            hits += 1
            v = -a if v < 0 else a
        _put16(dst, i, v)
    st[0] = x1 + _X_BIAS
    st[1] = y1 + _Y_BIAS
    return hits


def gain_ramp(buf, n, g0, g1):
    step = ((g1 - g0) << 8) // n
    acc = g0 << 8
    for i in range(n):
        v = (_s16(buf, i) * (acc >> 8)) >> 12
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        _put16(buf, i, v)
        acc += step


def mean_abs(buf, n):
    total = 0
    for i in range(n):
        x = _s16(buf, i)
        total += -x if x < 0 else x
    return total // n


def amdf(buf, start, lag, n):
    total = 0
    for i in range(start, start + n):
        d = _s16(buf, i) - _s16(buf, i - lag)
        total += -d if d < 0 else d
    return total


def copy_into(dst, src, soff, n):
    for i in range(n):
        dst[i] = src[soff + i]


def crossfade(dst, src, n):
    step = 32768 // n
    w = 0
    for i in range(n):
        _put16(dst, i, (_s16(dst, i) * w + _s16(src, i) * (32768 - w)) >> 15)
        w += step


def halfband_down(work, dst, n, taps):
    for m in range(n):
        c = 2 * m + 15
        acc = _s16(work, c) * _s16(taps, 0) + 16384
        for k in range(8):
            acc += (_s16(work, c - 2 * k - 1) + _s16(work, c + 2 * k + 1)) * _s16(taps, k + 1)
        v = acc >> 15
        _put16(dst, m, 32767 if v > 32767 else (-32768 if v < -32768 else v))


def halfband_up(work, dst, n, taps):
    for m in range(n):
        acc = 8192
        for k in range(8):
            acc += (_s16(work, 15 + m - 8 - k) + _s16(work, 15 + m - 7 + k)) * _s16(taps, k + 1)
        v = acc >> 14
        _put16(dst, 2 * m, 32767 if v > 32767 else (-32768 if v < -32768 else v))
        _put16(dst, 2 * m + 1, _s16(work, 15 + m - 7))
