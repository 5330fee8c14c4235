# G.711 against the reference algorithm of the design notes (crypto-vectors.md §6.2), written
# out again here with its segment tables and kept apart from the firmware code, over every
# 16-bit input and every code, for the pure twin and (under MicroPython) the viper leaves.
import sys

from coretest import ON_MICROPYTHON, assert_raises
from portier.media import g711

_SEG_UEND = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
_SEG_AEND = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]


def _search(val, table):
    for i in range(len(table)):
        if val <= table[i]:
            return i
    return len(table)


def ref_lin2ulaw(s16):
    v = s16 >> 2
    if v < 0:
        v, mask = -v, 0x7F
    else:
        mask = 0xFF
    if v > 32635:
        v = 32635
    v += 0x84 >> 2
    seg = _search(v, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask


def ref_lin2alaw(s16):
    v = s16 >> 3
    if v >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        v = -v - 1
    seg = _search(v, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    bits = (v >> 1) & 0xF if seg < 2 else (v >> seg) & 0xF
    return ((seg << 4) | bits) ^ mask


def ref_ulaw2lin(u):
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return 0x84 - t if u & 0x80 else t - 0x84


def ref_alaw2lin(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if a & 0x80 else -t


def _s16(buf, i):
    v = buf[2 * i] | (buf[2 * i + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v


def _implementations():
    from portier.media import _g711_py as p

    out = [("pure", p.encode_ulaw, p.decode_ulaw, p.encode_alaw, p.decode_alaw, p.swap16)]
    if ON_MICROPYTHON:
        from portier.media import _g711_viper as v

        out.append(("viper", v.encode_ulaw, v.decode_ulaw, v.encode_alaw, v.decode_alaw, v.swap16))
    return out


def test_known_answers_from_notes():
    cases_u = ((0, 0xFF), (-1, 0x7E), (100, 0xF2), (1000, 0xCE), (32767, 0x80), (-32768, 0x00))
    cases_a = ((0, 0xD5), (-1, 0x55), (1000, 0xFA), (32767, 0xAA), (-32768, 0x2A))
    for s, code in cases_u:
        assert ref_lin2ulaw(s) == code
    for s, code in cases_a:
        assert ref_lin2alaw(s) == code
    pcm = bytearray(2)
    out = bytearray(1)
    for s, code in cases_u:
        pcm[0], pcm[1] = s & 0xFF, (s >> 8) & 0xFF
        assert g711.encode_ulaw(pcm, out) == 1 and out[0] == code, (s, out[0])
    for s, code in cases_a:
        pcm[0], pcm[1] = s & 0xFF, (s >> 8) & 0xFF
        assert g711.encode_alaw(pcm, out) == 1 and out[0] == code, (s, out[0])
    for code, s in ((0x00, -32124), (0x80, 32124), (0xFF, 0), (0x7F, 0)):
        assert g711.decode_ulaw(bytes([code]), pcm) == 2 and _s16(pcm, 0) == s
    for code, s in ((0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256)):
        assert g711.decode_alaw(bytes([code]), pcm) == 2 and _s16(pcm, 0) == s


def test_encode_every_input_both_laws():
    chunk = 2048
    pcm = bytearray(2 * chunk)
    out = bytearray(chunk)
    impls = _implementations()
    for base in range(-32768, 32768, chunk):
        for i in range(chunk):
            v = (base + i) & 0xFFFF
            pcm[2 * i] = v & 0xFF
            pcm[2 * i + 1] = v >> 8
        want_u = bytes(ref_lin2ulaw(base + i) for i in range(chunk))
        want_a = bytes(ref_lin2alaw(base + i) for i in range(chunk))
        for name, enc_u, _du, enc_a, _da, _sw in impls:
            enc_u(pcm, out, chunk)
            assert out == want_u, (name, "ulaw", base)
            enc_a(pcm, out, chunk)
            assert out == want_a, (name, "alaw", base)


def test_decode_every_code_both_laws():
    codes = bytes(range(256))
    out = bytearray(512)
    for name, _eu, dec_u, _ea, dec_a, _sw in _implementations():
        dec_u(codes, out, 256)
        for c in range(256):
            assert _s16(out, c) == ref_ulaw2lin(c), (name, "ulaw", c)
        dec_a(codes, out, 256)
        for c in range(256):
            assert _s16(out, c) == ref_alaw2lin(c), (name, "alaw", c)


def test_decode_encode_is_identity_on_codes():
    # Every decoded level re-encodes to its own code, except μ-law's negative zero 0x7F,
    # which decodes to 0 and comes back as positive zero 0xFF.
    codes = bytes(range(256))
    pcm = bytearray(512)
    back = bytearray(256)
    g711.decode_alaw(codes, pcm)
    g711.encode_alaw(pcm, back)
    assert back == codes
    g711.decode_ulaw(codes, pcm)
    g711.encode_ulaw(pcm, back)
    assert bytes(back[i] for i in range(256) if i != 0x7F) == bytes(i for i in range(256) if i != 0x7F)
    assert back[0x7F] == 0xFF


def test_l16_is_big_endian_and_round_trips():
    pcm = bytes([0x34, 0x12, 0xFE, 0xFF, 0x00, 0x80])  # 0x1234, -2, -32768 little-endian
    out = bytearray(6)
    for name, _eu, _du, _ea, _da, swap in _implementations():
        swap(pcm, out, 3)
        assert bytes(out) == bytes([0x12, 0x34, 0xFF, 0xFE, 0x80, 0x00]), name
    assert g711.encode_l16(pcm, out) == 6
    back = bytearray(6)
    assert g711.decode_l16(out, back) == 6 and bytes(back) == pcm
    assert g711.decode_l16(back, back) == 6 and bytes(back) == bytes(out)  # in place works


def test_sizes_are_checked_and_n_limits_work():
    pcm = bytes(320)
    assert_raises(ValueError, g711.encode_ulaw, pcm, bytearray(159))
    assert_raises(ValueError, g711.decode_alaw, bytes(160), bytearray(319))
    assert_raises(ValueError, g711.encode_alaw, pcm, bytearray(200), 161)
    out = bytearray(160)
    assert g711.encode_ulaw(pcm, out, 10) == 10
    assert g711.encode_ulaw(memoryview(pcm), out) == 160
    assert g711.decode_ulaw(bytes(3), bytearray(6)) == 6


def test_frame_codec_allocates_nothing():
    import micropython

    pcm = bytearray(640)
    for i in range(320):
        v = (i * 997) & 0xFFFF
        pcm[2 * i], pcm[2 * i + 1] = v & 0xFF, v >> 8
    codes = bytearray(160)
    dec = bytearray(320)
    l16 = bytearray(640)
    micropython.heap_lock()
    try:
        for _ in range(3):
            g711.encode_ulaw(pcm, codes, 160)
            g711.decode_ulaw(codes, dec)
            g711.encode_alaw(pcm, codes, 160)
            g711.decode_alaw(codes, dec)
            g711.encode_l16(pcm, l16)
            g711.decode_l16(l16, pcm)
    finally:
        micropython.heap_unlock()
    if ON_MICROPYTHON:
        assert g711.VIPER, "the host MicroPython has the x64 native emitter"
    assert sys.implementation.name in ("micropython", "cpython")
