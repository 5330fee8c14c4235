# The per-byte loops of AES-CM in viper: building the SRTP IV, laying counter blocks, XORing
# keystream. Alone in its module (no native emitter, no import); aes_cm.py holds the pure twins.
# Word-wide paths run only on 4-byte-aligned addresses: the ESP32 faults on unaligned loads.
import micropython


@micropython.viper
def iv_build(iv, salt, hdr, roc: int):
    # iv = salt16 ^ (SSRC = hdr[8:12]) << 64 ^ (roc << 16 | seq = hdr[2:4]) << 16 (RFC 3711 4.1.1)
    v = ptr8(iv)
    s = ptr8(salt)
    h = ptr8(hdr)
    v[0] = s[0]
    v[1] = s[1]
    v[2] = s[2]
    v[3] = s[3]
    v[4] = s[4] ^ h[8]
    v[5] = s[5] ^ h[9]
    v[6] = s[6] ^ h[10]
    v[7] = s[7] ^ h[11]
    v[8] = s[8] ^ (roc >> 24)
    v[9] = s[9] ^ (roc >> 16)
    v[10] = s[10] ^ (roc >> 8)
    v[11] = s[11] ^ roc
    v[12] = s[12] ^ h[2]
    v[13] = s[13] ^ h[3]
    v[14] = s[14]
    v[15] = s[15]


@micropython.viper
def ctr_fill(blocks, iv):
    # Counter blocks iv, iv+1, ... over all of `blocks` (a multiple of 16 bytes); only the low
    # 16 bits count (RFC 3711 keeps a packet under 2**16 blocks). iv moves past the last block.
    b = ptr8(blocks)
    v = ptr8(iv)
    n = int(len(blocks))
    ctr = (v[14] << 8) | v[15]
    o = 0
    if ((int(b) | int(v)) & 3) == 0:
        b32 = ptr32(blocks)
        v32 = ptr32(iv)
        w0 = v32[0]
        w1 = v32[1]
        w2 = v32[2]
        x12 = v[12]
        x13 = v[13]
        while o < n:
            q = o >> 2
            b32[q] = w0
            b32[q + 1] = w1
            b32[q + 2] = w2
            b[o + 12] = x12
            b[o + 13] = x13
            b[o + 14] = ctr >> 8
            b[o + 15] = ctr
            ctr += 1
            o += 16
    else:
        while o < n:
            i = 0
            while i < 14:
                b[o + i] = v[i]
                i += 1
            b[o + 14] = ctr >> 8
            b[o + 15] = ctr
            ctr += 1
            o += 16
    v[14] = ctr >> 8
    v[15] = ctr


@micropython.viper
def xor_into(buf, off: int, ks, n: int):
    # buf[off:off+n] ^= ks[:n]
    b = ptr8(buf)
    k = ptr8(ks)
    i = 0
    if ((int(b) + off) & 3) == 0 and (int(k) & 3) == 0:
        b32 = ptr32(int(b) + off)
        k32 = ptr32(ks)
        words = n >> 2
        while i < words:
            b32[i] ^= k32[i]
            i += 1
        i = words << 2
    while i < n:
        b[off + i] ^= k[i]
        i += 1
