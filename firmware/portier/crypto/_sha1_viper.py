# SHA-1 compression and HMAC-SHA1 in viper, on the preallocated state laid out in sha1.py.
# Alone in its module: without a native emitter the whole file fails to compile, and sha1.py
# then falls back to hashlib. The pure twins in sha1.py are the reference; tests run both.
#
# Viper ints are machine words: 32 bits on the ESP32, 64 on the x64 host. Only the low 32 bits
# of every value are meaningful, so each right shift is masked to the bits that came from the
# low word, and ptr32 stores drop the rest. The round constants are read from ctx: as literals
# they exceed a 32-bit board's small ints and viper would treat them as objects.
import micropython

# ctx layout in 32-bit words (native byte order); must match sha1.py:
#   0..4 working state H, 5..9 inner (ipad) midstate, 10..14 outer (opad) midstate,
#   16..95 message schedule W[0..79];
# in bytes: 384..511 inner tail (two blocks), 512..575 outer block, 576..595 digest (big-endian),
# 596..611 the round constants K as words 149..152.


@micropython.viper
def hmac(ctx, data, n: int, roc: int):
    # n >= 0: HMAC-SHA1 of data[0:n] || roc (32-bit big-endian; roc < 0: data[n:n+4]) into
    # the digest bytes of ctx,
    # starting from the inner midstate. n < 0: only absorb the block data[0:64] into H (used
    # once per key to make the midstates). One copy of the rounds, no calls: a viper-to-viper
    # call costs about a fifth of a compression on the host. Rounds are unrolled by five with
    # the variables' roles rotating, instead of shifting five values every round.
    # Needs n < 2**28 (the bit length is written as 32 bits); callers bound packet sizes.
    c = ptr32(ctx)
    c8 = ptr8(ctx)
    d = ptr8(data)
    full = 0
    total = 1
    if n >= 0:
        i = 0
        while i < 5:
            c[i] = c[5 + i]
            i += 1
        full = n >> 6
        src = full << 6
        rem = n - src
        i = 0
        while i < rem:
            c8[384 + i] = d[src + i]
            i += 1
        if roc < 0:  # the suffix is data[n:n+4] (SRTCP's E|index: bit 31 set, no small int)
            c8[384 + rem] = d[n]
            c8[385 + rem] = d[n + 1]
            c8[386 + rem] = d[n + 2]
            c8[387 + rem] = d[n + 3]
        else:
            c8[384 + rem] = roc >> 24
            c8[385 + rem] = roc >> 16
            c8[386 + rem] = roc >> 8
            c8[387 + rem] = roc
        c8[388 + rem] = 0x80
        end = 448
        if rem + 5 > 56:
            end = 512
        i = 389 + rem
        while i < end - 4:
            c8[i] = 0
            i += 1
        bits = (n + 68) << 3  # ipad block + message + ROC, in bits
        c8[end - 4] = bits >> 24
        c8[end - 3] = bits >> 16
        c8[end - 2] = bits >> 8
        c8[end - 1] = bits
        total = full + ((end - 384) >> 6) + 1  # message blocks, tail blocks, outer block
    blk = 0
    while blk < total:
        s = d
        off = blk << 6
        if blk >= full and n >= 0:
            s = c8
            off = 384 + ((blk - full) << 6)
            if blk == total - 1:  # inner hash done: it becomes the outer message
                i = 0
                while i < 5:
                    x = c[i]
                    o = 512 + (i << 2)
                    c8[o] = x >> 24
                    c8[o + 1] = x >> 16
                    c8[o + 2] = x >> 8
                    c8[o + 3] = x
                    c[i] = c[10 + i]
                    i += 1
                off = 512
        t = 0
        while t < 16:
            o = off + (t << 2)
            c[16 + t] = (s[o] << 24) | (s[o + 1] << 16) | (s[o + 2] << 8) | s[o + 3]
            t += 1
        while t < 80:
            x = c[13 + t] ^ c[8 + t] ^ c[2 + t] ^ c[t]
            c[16 + t] = (x << 1) | ((x >> 31) & 1)
            t += 1
        a = c[0]
        b = c[1]
        cc = c[2]
        dd = c[3]
        e = c[4]
        k = c[149]
        t = 0
        while t < 20:
            e += ((a << 5) | ((a >> 27) & 31)) + (dd ^ (b & (cc ^ dd))) + k + c[16 + t]
            b = (b << 30) | ((b >> 2) & 0x3FFFFFFF)
            dd += ((e << 5) | ((e >> 27) & 31)) + (cc ^ (a & (b ^ cc))) + k + c[17 + t]
            a = (a << 30) | ((a >> 2) & 0x3FFFFFFF)
            cc += ((dd << 5) | ((dd >> 27) & 31)) + (b ^ (e & (a ^ b))) + k + c[18 + t]
            e = (e << 30) | ((e >> 2) & 0x3FFFFFFF)
            b += ((cc << 5) | ((cc >> 27) & 31)) + (a ^ (dd & (e ^ a))) + k + c[19 + t]
            dd = (dd << 30) | ((dd >> 2) & 0x3FFFFFFF)
            a += ((b << 5) | ((b >> 27) & 31)) + (e ^ (cc & (dd ^ e))) + k + c[20 + t]
            cc = (cc << 30) | ((cc >> 2) & 0x3FFFFFFF)
            t += 5
        k = c[150]
        t = 20
        while t < 40:
            e += ((a << 5) | ((a >> 27) & 31)) + (b ^ cc ^ dd) + k + c[16 + t]
            b = (b << 30) | ((b >> 2) & 0x3FFFFFFF)
            dd += ((e << 5) | ((e >> 27) & 31)) + (a ^ b ^ cc) + k + c[17 + t]
            a = (a << 30) | ((a >> 2) & 0x3FFFFFFF)
            cc += ((dd << 5) | ((dd >> 27) & 31)) + (e ^ a ^ b) + k + c[18 + t]
            e = (e << 30) | ((e >> 2) & 0x3FFFFFFF)
            b += ((cc << 5) | ((cc >> 27) & 31)) + (dd ^ e ^ a) + k + c[19 + t]
            dd = (dd << 30) | ((dd >> 2) & 0x3FFFFFFF)
            a += ((b << 5) | ((b >> 27) & 31)) + (cc ^ dd ^ e) + k + c[20 + t]
            cc = (cc << 30) | ((cc >> 2) & 0x3FFFFFFF)
            t += 5
        k = c[151]
        t = 40
        while t < 60:
            e += ((a << 5) | ((a >> 27) & 31)) + ((b & cc) | (dd & (b | cc))) + k + c[16 + t]
            b = (b << 30) | ((b >> 2) & 0x3FFFFFFF)
            dd += ((e << 5) | ((e >> 27) & 31)) + ((a & b) | (cc & (a | b))) + k + c[17 + t]
            a = (a << 30) | ((a >> 2) & 0x3FFFFFFF)
            cc += ((dd << 5) | ((dd >> 27) & 31)) + ((e & a) | (b & (e | a))) + k + c[18 + t]
            e = (e << 30) | ((e >> 2) & 0x3FFFFFFF)
            b += ((cc << 5) | ((cc >> 27) & 31)) + ((dd & e) | (a & (dd | e))) + k + c[19 + t]
            dd = (dd << 30) | ((dd >> 2) & 0x3FFFFFFF)
            a += ((b << 5) | ((b >> 27) & 31)) + ((cc & dd) | (e & (cc | dd))) + k + c[20 + t]
            cc = (cc << 30) | ((cc >> 2) & 0x3FFFFFFF)
            t += 5
        k = c[152]
        t = 60
        while t < 80:
            e += ((a << 5) | ((a >> 27) & 31)) + (b ^ cc ^ dd) + k + c[16 + t]
            b = (b << 30) | ((b >> 2) & 0x3FFFFFFF)
            dd += ((e << 5) | ((e >> 27) & 31)) + (a ^ b ^ cc) + k + c[17 + t]
            a = (a << 30) | ((a >> 2) & 0x3FFFFFFF)
            cc += ((dd << 5) | ((dd >> 27) & 31)) + (e ^ a ^ b) + k + c[18 + t]
            e = (e << 30) | ((e >> 2) & 0x3FFFFFFF)
            b += ((cc << 5) | ((cc >> 27) & 31)) + (dd ^ e ^ a) + k + c[19 + t]
            dd = (dd << 30) | ((dd >> 2) & 0x3FFFFFFF)
            a += ((b << 5) | ((b >> 27) & 31)) + (cc ^ dd ^ e) + k + c[20 + t]
            cc = (cc << 30) | ((cc >> 2) & 0x3FFFFFFF)
            t += 5
        c[0] = c[0] + a
        c[1] = c[1] + b
        c[2] = c[2] + cc
        c[3] = c[3] + dd
        c[4] = c[4] + e
        blk += 1
    if n >= 0:
        i = 0
        while i < 5:
            x = c[i]
            o = 576 + (i << 2)
            c8[o] = x >> 24
            c8[o + 1] = x >> 16
            c8[o + 2] = x >> 8
            c8[o + 3] = x
            i += 1


@micropython.viper
def tag_op(ctx, data, off: int, t: int) -> int:
    # t > 0: write the first t digest bytes to data[off:]; returns 0.
    # t < 0: compare the first -t digest bytes with data[off:]; returns 0 only if all equal,
    # looking at every byte whatever the first difference (constant time).
    c8 = ptr8(ctx)
    d = ptr8(data)
    i = 0
    if t > 0:
        while i < t:
            d[off + i] = c8[576 + i]
            i += 1
        return 0
    diff = 0
    while i < -t:
        diff |= d[off + i] ^ c8[576 + i]
        i += 1
    return diff
