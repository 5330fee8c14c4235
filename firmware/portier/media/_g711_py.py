# Pure-Python twins of _g711_viper.py: the G.711 reference algorithm (ITU-T G.711 as in the
# Sun/CCITT code), one sample at a time. CPython runs these; so does a MicroPython build without
# the native emitter. Kept out of g711.py so a board with viper never loads them.


def encode_ulaw(pcm, out, n):
    for i in range(n):
        v = pcm[2 * i] | (pcm[2 * i + 1] << 8)
        if v & 0x8000:
            v -= 0x10000
        v >>= 2
        mask = 0xFF
        if v < 0:
            v = -v
            mask = 0x7F
        v += 33
        seg = 0
        end = 0x3F
        while seg < 8 and v > end:
            seg += 1
            end = (end << 1) | 1
        if seg >= 8:
            out[i] = 0x7F ^ mask
        else:
            out[i] = ((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask


def decode_ulaw(codes, out, n):
    for i in range(n):
        u = codes[i] ^ 0xFF
        t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
        v = 0x84 - t if u & 0x80 else t - 0x84
        out[2 * i] = v & 0xFF
        out[2 * i + 1] = (v >> 8) & 0xFF


def encode_alaw(pcm, out, n):
    for i in range(n):
        v = pcm[2 * i] | (pcm[2 * i + 1] << 8)
        if v & 0x8000:
            v -= 0x10000
        v >>= 3
        mask = 0xD5
        if v < 0:
            mask = 0x55
            v = -v - 1
        seg = 0
        end = 0x1F
        while seg < 8 and v > end:
            seg += 1
            end = (end << 1) | 1
        if seg >= 8:
            out[i] = 0x7F ^ mask
        elif seg < 2:
            out[i] = ((seg << 4) | ((v >> 1) & 0xF)) ^ mask
        else:
            out[i] = ((seg << 4) | ((v >> seg) & 0xF)) ^ mask


def decode_alaw(codes, out, n):
    for i in range(n):
        a = codes[i] ^ 0x55
        seg = (a & 0x70) >> 4
        t = (a & 0x0F) << 4
        if seg == 0:
            t += 8
        elif seg == 1:
            t += 0x108
        else:
            t = (t + 0x108) << (seg - 1)
        if not a & 0x80:
            t = -t
        out[2 * i] = t & 0xFF
        out[2 * i + 1] = (t >> 8) & 0xFF


def swap16(src, out, n):
    for i in range(n):
        lo = src[2 * i]
        out[2 * i] = src[2 * i + 1]
        out[2 * i + 1] = lo
