# Viper leaves for G.711 and L16: one frame per call, no allocation, no bounds checks (the
# callers in g711.py check sizes). Alone in this module: without a native emitter it does not
# compile at all, and g711.py then falls back to the pure twins.
import micropython


@micropython.viper
def encode_ulaw(pcm, out, n: int):
    src = ptr8(pcm)
    dst = ptr8(out)
    for i in range(n):
        v = src[2 * i] | (src[2 * i + 1] << 8)
        if v & 0x8000:
            v = v - 0x10000
        v = v >> 2
        mask = 0xFF
        if v < 0:
            v = 0 - v
            mask = 0x7F
        v += 33  # BIAS >> 2; the reference's clip at 32635 never bites a 14-bit magnitude
        seg = 0
        end = 0x3F
        while seg < 8 and v > end:
            seg += 1
            end = (end << 1) | 1
        if seg >= 8:
            dst[i] = 0x7F ^ mask
        else:
            dst[i] = ((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask


@micropython.viper
def decode_ulaw(codes, out, n: int):
    src = ptr8(codes)
    dst = ptr8(out)
    for i in range(n):
        u = (src[i] ^ 0xFF) & 0xFF
        t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
        if u & 0x80:
            v = 0x84 - t
        else:
            v = t - 0x84
        dst[2 * i] = v & 0xFF
        dst[2 * i + 1] = (v >> 8) & 0xFF


@micropython.viper
def encode_alaw(pcm, out, n: int):
    src = ptr8(pcm)
    dst = ptr8(out)
    for i in range(n):
        v = src[2 * i] | (src[2 * i + 1] << 8)
        if v & 0x8000:
            v = v - 0x10000
        v = v >> 3
        mask = 0xD5
        if v < 0:
            mask = 0x55
            v = 0 - v - 1
        seg = 0
        end = 0x1F
        while seg < 8 and v > end:
            seg += 1
            end = (end << 1) | 1
        if seg >= 8:
            dst[i] = 0x7F ^ mask
        elif seg < 2:
            dst[i] = ((seg << 4) | ((v >> 1) & 0xF)) ^ mask
        else:
            dst[i] = ((seg << 4) | ((v >> seg) & 0xF)) ^ mask


@micropython.viper
def decode_alaw(codes, out, n: int):
    src = ptr8(codes)
    dst = ptr8(out)
    for i in range(n):
        a = (src[i] ^ 0x55) & 0xFF
        seg = (a & 0x70) >> 4
        t = (a & 0x0F) << 4
        if seg == 0:
            t += 8
        elif seg == 1:
            t += 0x108
        else:
            t = (t + 0x108) << (seg - 1)
        if not (a & 0x80):
            t = 0 - t
        dst[2 * i] = t & 0xFF
        dst[2 * i + 1] = (t >> 8) & 0xFF


@micropython.viper
def swap16(src, out, n: int):
    s = ptr8(src)
    d = ptr8(out)
    for i in range(n):
        lo = s[2 * i]
        d[2 * i] = s[2 * i + 1]
        d[2 * i + 1] = lo
