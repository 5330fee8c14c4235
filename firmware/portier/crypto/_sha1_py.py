# Pure-Python twins of _sha1_viper.py on the same state layout (sha1.py): the reference the
# viper code is tested against, and slow. Not loaded on a board that has viper.
from .sha1 import CTX_DIGEST, CTX_OUTER, CTX_TAIL, CTX_W, get_word, put_be32, set_word

_M32 = 0xFFFFFFFF  # not const(): a long int on a 32-bit board
CTX_K = (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6)


def compress_py(ctx, src, off):
    """H (ctx words 0..4) absorbs the block src[off:off+64]."""
    w = [0] * 80
    for t in range(16):
        o = off + 4 * t
        w[t] = (src[o] << 24) | (src[o + 1] << 16) | (src[o + 2] << 8) | src[o + 3]
    for t in range(16, 80):
        x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
        w[t] = ((x << 1) | (x >> 31)) & _M32
    a, b, c, d, e = [get_word(ctx, i) for i in range(5)]
    for t in range(80):
        if t < 20:
            f = ((b & c) | (~b & d)) + CTX_K[0]
        elif t < 40:
            f = (b ^ c ^ d) + CTX_K[1]
        elif t < 60:
            f = ((b & c) | (b & d) | (c & d)) + CTX_K[2]
        else:
            f = (b ^ c ^ d) + CTX_K[3]
        x = ((((a << 5) | (a >> 27)) & _M32) + f + e + w[t]) & _M32
        e, d, c, b, a = d, c, ((b << 30) | (b >> 2)) & _M32, a, x
    for i, v in enumerate((a, b, c, d, e)):
        set_word(ctx, i, (get_word(ctx, i) + v) & _M32)
    for t in range(80):  # leave W where the viper version leaves it
        set_word(ctx, CTX_W + t, w[t])


def hmac_py(ctx, data, n, roc):
    """Pure twin of _sha1_viper.hmac: HMAC-SHA1(data[:n] || roc as 4 bytes, or || data[n:n+4]
    when roc < 0) into the digest;
    with n < 0 only H absorbs the block data[0:64] (midstates are made that way)."""
    if n < 0:
        compress_py(ctx, data, 0)
        return
    for i in range(5):
        set_word(ctx, i, get_word(ctx, 5 + i))
    full = n >> 6
    for i in range(full):
        compress_py(ctx, data, i << 6)
    src = full << 6
    rem = n - src
    for i in range(rem):
        ctx[CTX_TAIL + i] = data[src + i]
    if roc < 0:
        for i in range(4):
            ctx[CTX_TAIL + rem + i] = data[n + i]
    else:
        put_be32(ctx, CTX_TAIL + rem, roc & _M32)
    ctx[CTX_TAIL + rem + 4] = 0x80
    end = CTX_TAIL + (64 if rem + 5 <= 56 else 128)
    for i in range(CTX_TAIL + rem + 5, end - 4):
        ctx[i] = 0
    put_be32(ctx, end - 4, (n + 68) << 3)
    for off in range(CTX_TAIL, end, 64):
        compress_py(ctx, ctx, off)
    for i in range(5):
        put_be32(ctx, CTX_OUTER + 4 * i, get_word(ctx, i))
        set_word(ctx, i, get_word(ctx, 10 + i))
    compress_py(ctx, ctx, CTX_OUTER)
    for i in range(5):
        put_be32(ctx, CTX_DIGEST + 4 * i, get_word(ctx, i))


def tag_op_py(ctx, data, off, t):
    """Pure twin of _sha1_viper.tag_op: t > 0 writes t tag bytes, t < 0 compares -t bytes."""
    if t > 0:
        for i in range(t):
            data[off + i] = ctx[CTX_DIGEST + i]
        return 0
    diff = 0
    for i in range(-t):
        diff |= data[off + i] ^ ctx[CTX_DIGEST + i]
    return diff
