# AES-CM over cryptolib ECB: RFC 3711 B.2 (= libsrtp srtp_aes_icm_128_test_case_0), the SRTP IV
# layout from the call-key model vector, chunking, and the viper leaves against their twins.
from coretest import ON_MICROPYTHON, assert_raises, unhex
from portier.crypto import aes_cm

B2_KEY = unhex("2B7E151628AED2A6ABF7158809CF4F3C")
B2_SALT = unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD")
B2_FIRST = unhex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB"
                 "41E95B3BB0A2E8DD477901E4FCA894C0")
B2_LAST = unhex("EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE"
                "6A2CC3787889374FBEB4C81B17BA6C44")


def _impls():
    out = [("python", aes_cm.PY_IMPL)]
    if ON_MICROPYTHON:
        assert aes_cm.VIPER_IMPL is not None, "host MicroPython has the viper emitter"
        out.append(("viper", aes_cm.VIPER_IMPL))
    return out


def test_rfc3711_b2_keystream():
    for name, impl in _impls():
        for blocks in (1, 2, 3, 48):  # chunked through small buffers and in one ECB call
            cm = aes_cm.AesCm(B2_KEY, B2_SALT, aes_cm.KeystreamBuffer(blocks), impl)
            buf = bytearray(48)
            cm.crypt_into(buf, 0, 48, bytes(12), 0)  # SSRC 0, ROC 0, SEQ 0
            assert buf == B2_FIRST, (name, blocks)
            buf = bytearray(48)
            cm.crypt_iv_into(buf, 0, 48, B2_SALT + b"\xfe\xff")
            assert buf == B2_LAST, (name, blocks)


def test_partial_blocks_and_offsets():
    for name, impl in _impls():
        cm = aes_cm.AesCm(B2_KEY, B2_SALT, aes_cm.KeystreamBuffer(2), impl)
        for off in (0, 1, 3, 12):
            for n in (0, 1, 15, 16, 17, 33, 47):
                buf = bytearray(b"\x5a" * (off + n + 3))
                cm.crypt_into(buf, off, n, bytes(12), 0)
                assert buf[:off] == b"\x5a" * off, (name, off, n)
                assert buf[off + n:] == b"\x5a\x5a\x5a", (name, off, n)
                for i in range(n):
                    assert buf[off + i] == B2_FIRST[i] ^ 0x5A, (name, off, n, i)


def test_call_key_model_iv():
    # protocol-model section 5: session salt 10fb8133eff7639cc0d06788f49c, SSRC 0x12345678,
    # seq 7, ROC 0 -> IV 10fb8133fdc335e4c0d06788f49b0000
    salt = unhex("10fb8133eff7639cc0d06788f49c") + b"\x00\x00"
    hdr = bytearray(12)
    hdr[3] = 7
    hdr[8:12] = b"\x12\x34\x56\x78"
    for name, (iv_build, _, _) in _impls():
        iv = bytearray(16)
        iv_build(iv, salt, hdr, 0)
        assert iv == unhex("10fb8133fdc335e4c0d06788f49b0000"), name


def test_iv_roc_and_ssrc_positions():
    salt = bytes(16)
    hdr = bytearray(b"\x80\x00\xbe\xef\x11\x22\x33\x44\xca\xfe\xba\xbe")
    for name, (iv_build, _, _) in _impls():
        iv = bytearray(16)
        iv_build(iv, salt, hdr, 0x89ABCDEF)
        assert iv == unhex("00000000cafebabe89abcdefbeef0000"), name


def test_crypt_into_equals_explicit_iv():
    key = bytes(range(16))
    salt = bytes(range(100, 114))
    hdr = bytearray(b"\x80\x08\xff\xfe\x00\x00\x00\x00\xde\xad\xbe\xef")
    for name, impl in _impls():
        cm = aes_cm.AesCm(key, salt, None, impl)
        a = bytearray(200)
        cm.crypt_into(a, 0, 200, hdr, 3)
        iv = bytearray(salt + b"\x00\x00")
        for i in range(4):
            iv[4 + i] ^= hdr[8 + i]
        iv[11] ^= 3
        iv[12] ^= 0xFF
        iv[13] ^= 0xFE
        b = bytearray(200)
        cm.crypt_iv_into(b, 0, 200, iv)
        assert a == b, name


def test_counter_wraps_in_low_16_bits():
    for name, (_, ctr_fill, _) in _impls():
        iv = bytearray(b"\xaa" * 14 + b"\xff\xfe")
        blocks = bytearray(64)
        ctr_fill(blocks, iv)
        for j, low in enumerate((b"\xff\xfe", b"\xff\xff", b"\x00\x00", b"\x00\x01")):
            assert blocks[16 * j: 16 * j + 14] == b"\xaa" * 14, name
            assert blocks[16 * j + 14: 16 * j + 16] == low, (name, j)
        assert iv[14:] == b"\x00\x02", name


def test_leaves_on_unaligned_buffers():
    # the viper leaves take word-wide paths only on aligned addresses; every alignment must
    # give what the definition gives
    raw = bytearray(200)
    for name, (_, ctr_fill, xor_into) in _impls():
        for shift in (0, 1, 2, 3):
            view = memoryview(raw)[shift: shift + 160]
            iv = bytearray(range(16))
            ctr_fill(view, iv)
            for j in range(10):
                want = bytes(range(14)) + bytes((0x0E, (0x0F + j) & 0xFF))
                assert bytes(view[16 * j: 16 * j + 16]) == want, (name, shift, j)
            assert iv[14:] == b"\x0e\x19", name
        ks = bytes((i * 37 + 5) & 0xFF for i in range(80))
        for off in range(5):
            for n in (0, 1, 3, 4, 5, 63, 64, 65, 80):
                a = bytearray((i * 11) & 0xFF for i in range(90))
                xor_into(a, off, ks, n)
                for i in range(90):
                    plain = (i * 11) & 0xFF
                    want = plain ^ ks[i - off] if off <= i < off + n else plain
                    assert a[i] == want, (name, off, n, i)


def test_bad_parameters():
    assert_raises(ValueError, aes_cm.AesCm, bytes(15), bytes(14))
    assert_raises(ValueError, aes_cm.AesCm, bytes(16), bytes(13))
    assert_raises(ValueError, aes_cm.KeystreamBuffer, 0)
