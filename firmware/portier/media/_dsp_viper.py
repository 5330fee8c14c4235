# Viper leaves for the door-side DSP and loss concealment. Pure twins live in dsp.py and are
# the reference: tests run both on the same inputs. PCM is little-endian int16 in bytes.
import micropython


@micropython.viper
def mic_to_pcm(src, dst, n: int, st) -> int:
    # INMP441 32-bit left-slot words (24 bits MSB-aligned) -> int16: DC-removal high-pass,
    # gain, soft limiter. st: array('i') [x1 + 2**24, y1 + 2**27, gain_q8, knee]; the biases
    # keep stored values positive, since a ptr32 load sign-extends on a 32-bit board but not on
    # a 64-bit host. Words are read bytewise for the same reason. Returns samples limited.
    s = ptr8(src)
    d = ptr8(dst)
    p = ptr32(st)
    x1 = p[0] - 0x1000000
    y1 = p[1] - 0x8000000
    g = p[2]
    knee = p[3]
    room = 32767 - knee
    hits = 0
    for i in range(n):
        x = s[4 * i + 1] | (s[4 * i + 2] << 8) | (s[4 * i + 3] << 16)
        if x & 0x800000:
            x = x - 0x1000000
        y = y1 + x - x1 - (y1 >> 8)
        x1 = x
        y1 = y
        v = y >> 6
        if v > 262143:
            v = 262143
        elif v < -262143:
            v = -262143
        v = (v * g) >> 10
        a = v
        if a < 0:
            a = 0 - a
        if a > knee:
            e = a - knee
            if e > 131072:
                e = 131072
            a = knee + (e * room) // (e + room)
            hits += 1
            if v < 0:
                v = 0 - a
            else:
                v = a
        d[2 * i] = v & 0xFF
        d[2 * i + 1] = (v >> 8) & 0xFF
    p[0] = x1 + 0x1000000
    p[1] = y1 + 0x8000000
    return hits


@micropython.viper
def gain_ramp(buf, n: int, g0: int, g1: int):
    # In place: gain moves linearly from g0 to g1 (Q12, 4096 = 1.0) over n samples; saturates.
    b = ptr8(buf)
    step = ((g1 - g0) << 8) // n
    acc = g0 << 8
    for i in range(n):
        x = b[2 * i] | (b[2 * i + 1] << 8)
        if x & 0x8000:
            x = x - 0x10000
        v = (x * (acc >> 8)) >> 12
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        b[2 * i] = v & 0xFF
        b[2 * i + 1] = (v >> 8) & 0xFF
        acc += step


@micropython.viper
def mean_abs(buf, n: int) -> int:
    b = ptr8(buf)
    total = 0
    for i in range(n):
        x = b[2 * i] | (b[2 * i + 1] << 8)
        if x & 0x8000:
            x = 0x10000 - x
        total += x
    return total // n


@micropython.viper
def amdf(buf, start: int, lag: int, n: int) -> int:
    # Average magnitude difference: sum |x[start+i] - x[start+i-lag]| for i < n (sample units).
    b = ptr8(buf)
    total = 0
    for i in range(n):
        j = 2 * (start + i)
        k = j - 2 * lag
        x = b[j] | (b[j + 1] << 8)
        if x & 0x8000:
            x = x - 0x10000
        y = b[k] | (b[k + 1] << 8)
        if y & 0x8000:
            y = y - 0x10000
        x = x - y
        if x < 0:
            x = 0 - x
        total += x
    return total


@micropython.viper
def copy_into(dst, src, soff: int, n: int):
    # dst[0:n] = src[soff:soff+n] in bytes, without a slice object.
    d = ptr8(dst)
    s = ptr8(src)
    for i in range(n):
        d[i] = s[soff + i]


@micropython.viper
def crossfade(dst, src, n: int):
    # In place on dst: fades from src (at i = 0) to dst (at i = n) linearly, both int16.
    d = ptr8(dst)
    s = ptr8(src)
    step = 32768 // n
    w = 0
    for i in range(n):
        x = d[2 * i] | (d[2 * i + 1] << 8)
        if x & 0x8000:
            x = x - 0x10000
        y = s[2 * i] | (s[2 * i + 1] << 8)
        if y & 0x8000:
            y = y - 0x10000
        v = (x * w + y * (32768 - w)) >> 15
        d[2 * i] = v & 0xFF
        d[2 * i + 1] = (v >> 8) & 0xFF
        w += step


@micropython.viper
def halfband_down(work, dst, n: int, taps):
    # 2:1 decimation with a 31-tap half-band FIR. work: int16 LE, 30 samples of history then
    # 2n new ones; dst gets n samples. taps: int16 LE h0 (centre), then h1, h3, ..., h15.
    w = ptr8(work)
    d = ptr8(dst)
    t = ptr8(taps)
    for m in range(n):
        c = 2 * m + 15
        x = w[2 * c] | (w[2 * c + 1] << 8)
        if x & 0x8000:
            x = x - 0x10000
        h = t[0] | (t[1] << 8)
        acc = x * h + 16384
        for k in range(8):
            a = c - 2 * k - 1
            b = c + 2 * k + 1
            x = w[2 * a] | (w[2 * a + 1] << 8)
            if x & 0x8000:
                x = x - 0x10000
            y = w[2 * b] | (w[2 * b + 1] << 8)
            if y & 0x8000:
                y = y - 0x10000
            h = t[2 * k + 2] | (t[2 * k + 3] << 8)
            if h & 0x8000:
                h = h - 0x10000
            acc += (x + y) * h
        v = acc >> 15
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        d[2 * m] = v & 0xFF
        d[2 * m + 1] = (v >> 8) & 0xFF


@micropython.viper
def halfband_up(work, dst, n: int, taps):
    # 1:2 interpolation with the same filter. work: int16 LE, 15 samples of history then n new
    # ones; dst gets 2n samples: the odd outputs are the input delayed by 7 samples, the even
    # ones come from the odd-offset taps (the zero-stuffing gain of 2 is the >> 14).
    w = ptr8(work)
    d = ptr8(dst)
    t = ptr8(taps)
    for m in range(n):
        acc = 8192
        for k in range(8):
            a = 15 + m - 8 - k  # x[m - (15 + (2k + 1)) / 2] in work coordinates
            b = 15 + m - 7 + k  # x[m - (15 - (2k + 1)) / 2]
            x = w[2 * a] | (w[2 * a + 1] << 8)
            if x & 0x8000:
                x = x - 0x10000
            y = w[2 * b] | (w[2 * b + 1] << 8)
            if y & 0x8000:
                y = y - 0x10000
            h = t[2 * k + 2] | (t[2 * k + 3] << 8)
            if h & 0x8000:
                h = h - 0x10000
            acc += (x + y) * h
        v = acc >> 14
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        d[4 * m] = v & 0xFF
        d[4 * m + 1] = (v >> 8) & 0xFF
        j = 2 * (15 + m - 7)
        d[4 * m + 2] = w[j]
        d[4 * m + 3] = w[j + 1]
