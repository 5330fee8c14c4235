# SRTP/SRTCP conformance: RFC 3711 B.3 key derivation, libsrtp srtp_validate packets, the
# call-key -> SRTP vector of the protocol model, header layouts, and the receiver's rules.
# Bad-input and replay tests live in test_srtp_reject.py, the allocation test in
# test_srtp_heap.py; shared vectors and the packet builder in srtp_packets.py.
import hashlib

from coretest import ON_MICROPYTHON, assert_raises, unhex
from portier.crypto.hmac import Hmac, hmac_sha1
from portier.media import srtp
from portier.media.srtp import SrtpContext, SrtpError
from srtp_packets import (B3_KEY, B3_SALT, VALIDATE_RTCP, VALIDATE_RTP, VALIDATE_SRTCP,
                          VALIDATE_SRTP, rtp_packet)


def impls():
    # every implementation this runtime has; "python" (pure SHA-1) is slow: few packets only
    out = ["hashlib", "python"]
    if ON_MICROPYTHON:
        out.append("viper")
    return out


def test_rfc3711_b3_key_derivation():
    assert srtp.session_key(B3_KEY, B3_SALT, 0, 16) == unhex("C61E7A93744F39EE10734AFE3FF7A087")
    assert srtp.session_key(B3_KEY, B3_SALT, 2, 14) == unhex("30CBBC08863D8C85D49DB34A9AE1")
    auth94 = unhex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE"
                   "E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25"
                   "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2")
    assert srtp.session_key(B3_KEY, B3_SALT, 1, 94) == auth94
    assert srtp.session_key(B3_KEY, B3_SALT, 1, 20) == auth94[:20]


def test_srtcp_labels():
    assert srtp.session_key(B3_KEY, B3_SALT, 3, 16) == unhex("4c1aa45a81f73d61c800bbb00fbb1eaa")
    assert srtp.session_key(B3_KEY, B3_SALT, 4, 20) == unhex(
        "8d54534feb49ae8e7993a6bd0b844fc323a93dfd")
    assert srtp.session_key(B3_KEY, B3_SALT, 5, 14) == unhex("9581c7ad87b3e530bf3e4454a8b3")


def test_libsrtp_srtp_validate_packets():
    for impl in impls():
        tx = SrtpContext(B3_KEY, B3_SALT, impl=impl)
        assert tx.protect(VALIDATE_RTP) == VALIDATE_SRTP, impl
        assert tx.protect_rtcp(VALIDATE_RTCP) == VALIDATE_SRTCP, impl  # first index is 1
        rx = SrtpContext(B3_KEY, B3_SALT, impl=impl)
        assert rx.unprotect(VALIDATE_SRTP) == VALIDATE_RTP, impl
        assert rx.unprotect_rtcp(VALIDATE_SRTCP) == VALIDATE_RTCP, impl


def test_validate_packet_in_place():
    tx = SrtpContext(B3_KEY, B3_SALT)
    buf = bytearray(VALIDATE_RTP) + bytearray(12)
    n = tx.protect_into(buf, len(VALIDATE_RTP))
    assert n == 38 and buf[:n] == VALIDATE_SRTP and buf[n:] == bytes(2)
    rx = SrtpContext(B3_KEY, B3_SALT)
    assert rx.unprotect_into(buf, n) == 28 and buf[:28] == VALIDATE_RTP
    buf = bytearray(VALIDATE_RTCP) + bytearray(14)
    assert tx.protect_rtcp_into(buf, 24) == 38 and buf == VALIDATE_SRTCP
    assert rx.unprotect_rtcp_into(buf, 38) == 24 and buf[:24] == VALIDATE_RTCP


def test_call_key_model_vector():
    # protocol-model section 5: callKey 00..1f, participant 222222222222222:0@lid
    call_key = bytes(range(32))
    key, salt = srtp.derive_master(call_key, "222222222222222:0@lid")
    assert key == unhex("3f5423fb6f67e4c588bf5741a3a4e92c")
    assert salt == unhex("749ee99101a47c82bb5dacec40cf")
    assert srtp.session_key(key, salt, 0, 16) == unhex("747055a9d18be0fcdc0e29d871309081")
    assert srtp.session_key(key, salt, 2, 14) == unhex("10fb8133eff7639cc0d06788f49c")
    assert srtp.session_key(key, salt, 1, 20) == unhex("8eff4bb04971d92512b034ce0ebc466059bfc6ea")
    # a bare LID, a /resource and bytes name the same participant; extra key bytes are ignored
    assert srtp.derive_master(call_key + b"\xff" * 8, b"222222222222222@lid/phone") == (key, salt)
    assert srtp.derive_master(call_key, "222222222222222:1@lid") != (key, salt)
    assert_raises(SrtpError, srtp.derive_master, call_key[:31], "222222222222222:0@lid")


def test_call_key_model_iv_through_srtp():
    # the model's IV (SSRC 0x12345678, seq 7, ROC 0) is the first keystream block's counter:
    # encrypting 16 zero bytes through the context gives AES(cipherKey, IV)
    import cryptolib

    key, salt = srtp.derive_master(bytes(range(32)), "222222222222222:0@lid")
    ctx = SrtpContext(key, salt)
    pkt = bytearray(rtp_packet(7, ssrc=0x12345678, payload=bytes(16))) + bytearray(10)
    ctx.protect_into(pkt, 28)
    want = bytearray(16)
    cryptolib.aes(unhex("747055a9d18be0fcdc0e29d871309081"), 1).encrypt(
        unhex("10fb8133fdc335e4c0d06788f49b0000"), want)
    assert pkt[12:28] == want


def test_device_qualified():
    dq = srtp.device_qualified
    assert dq("111@lid") == "111:0@lid"
    assert dq("111:3@lid") == "111:3@lid"
    assert dq("111:3@lid/res") == "111:3@lid"
    assert dq("111@s.whatsapp.net") == "111@s.whatsapp.net"
    assert dq(b"door@lid") == "door:0@lid"


def _hkdf_sha256_ref(salt, ikm, info, n):
    # RFC 5869 written out here, independent of portier.crypto.hkdf (one block is enough)
    prk = Hmac(salt, hashlib.sha256).digest(ikm)
    return Hmac(prk, hashlib.sha256).digest(info, b"\x01")[:n]


def test_derive_ssrc():
    call_id = "5D1C0E2A9B7F4C3D8E6A1B2C3D4E5F60"
    for participant, slot in (("222:3@lid", 0), ("222:3@lid", 2), ("111@lid", 1)):
        want = _hkdf_sha256_ref(bytes((slot, 0, 0, 0)), call_id.encode(),
                                srtp.device_qualified(participant).encode(), 4)
        got = srtp.derive_ssrc(call_id, participant, slot)
        assert got == want[0] | (want[1] << 8) | (want[2] << 16) | (want[3] << 24)
    assert srtp.derive_ssrc(call_id, "222:3@lid", 0) != srtp.derive_ssrc(call_id, "222:3@lid", 2)
    assert srtp.derive_ssrc(call_id.encode(), "111@lid", 0) == srtp.derive_ssrc(call_id,
                                                                                "111:0@lid", 0)
    assert_raises(SrtpError, srtp.derive_ssrc, call_id, "111@lid", -1)


def test_header_variants_round_trip_with_header_in_clear():
    key = bytes(range(16))
    salt = bytes(range(16, 30))
    payload = bytes((i * 7) & 0xFF for i in range(45))
    cases = [
        rtp_packet(100, payload=payload),
        rtp_packet(101, payload=payload, csrcs=(1, 2, 0xFFFFFFFF)),
        rtp_packet(102, payload=payload, ext=(0xBEDE, b"\x10\xaa\x00\x00" * 3)),
        rtp_packet(103, payload=payload, csrcs=(7,), ext=(0xDEBE, b"\x30\x01\x00\x00")),
        rtp_packet(104, payload=payload, pad=4),
        rtp_packet(105, payload=b""),
        rtp_packet(106, payload=b"", ext=(0x1000, b"")),
    ]
    for tag_len in (10, 4):
        tx = SrtpContext(key, salt, tag_len)
        rx = SrtpContext(key, salt, tag_len)
        for pkt in cases:
            b0 = pkt[0]
            hl = 12 + 4 * (b0 & 0x0F)
            if b0 & 0x10:
                hl += 4 + 4 * pkt[hl + 3]
            out = tx.protect(pkt)
            assert len(out) == len(pkt) + tag_len
            assert out[:hl] == pkt[:hl]
            if len(pkt) > hl:
                assert out[hl:len(pkt)] != pkt[hl:]
            assert rx.unprotect(out) == pkt


def test_header_extension_is_authenticated_not_encrypted():
    key = bytes(16)
    salt = bytes(14)
    pkt = rtp_packet(5, payload=b"\x00" * 16, ext=(0xBEDE, b"\x01\x02\x03\x04"))
    out = SrtpContext(key, salt).protect(pkt)
    # the payload keystream starts at the payload: same as a packet without the extension
    plain = rtp_packet(5, payload=b"\x00" * 16)
    out2 = SrtpContext(key, salt).protect(plain)
    assert out[20:36] == out2[12:28]
    forged = bytearray(out)
    forged[17] ^= 1  # inside the extension
    assert_raises(SrtpError, SrtpContext(key, salt).unprotect, bytes(forged))


def test_tag_is_hmac_sha1_over_packet_and_roc():
    # independent check of the tag rule: HMAC-SHA1(auth key, packet || ROC)[:tag_len]
    auth_key = srtp.session_key(B3_KEY, B3_SALT, 1, 20)
    for tag_len in (10, 4):
        tx = SrtpContext(B3_KEY, B3_SALT, tag_len)
        first = tx.protect(rtp_packet(65535))
        after_wrap = tx.protect(rtp_packet(3))  # ROC 1 now
        for pkt, roc in ((first, b"\0\0\0\0"), (after_wrap, b"\0\0\0\1")):
            body = pkt[:-tag_len]
            assert pkt[-tag_len:] == hmac_sha1(auth_key, body + roc)[:tag_len]


def test_rtcp_tag_stays_80_bits_under_sha1_32():
    tx = SrtpContext(B3_KEY, B3_SALT, tag_len=4)
    assert tx.protect_rtcp(VALIDATE_RTCP) == VALIDATE_SRTCP
    rx = SrtpContext(B3_KEY, B3_SALT, tag_len=4)
    assert rx.unprotect_rtcp(VALIDATE_SRTCP) == VALIDATE_RTCP


def test_srtcp_unencrypted_e0_packet():
    # an E=0 SRTCP packet built here from the RFC rules: clear body, index word, 80-bit tag
    auth = srtp.session_key(B3_KEY, B3_SALT, 4, 20)
    body = VALIDATE_RTCP + b"\x00\x00\x00\x05"
    pkt = body + hmac_sha1(auth, body)[:10]
    rx = SrtpContext(B3_KEY, B3_SALT)
    assert rx.unprotect_rtcp(pkt) == VALIDATE_RTCP
    assert_raises(SrtpError, rx.unprotect_rtcp, pkt)  # replayed


def test_srtcp_index_counts_up():
    tx = SrtpContext(B3_KEY, B3_SALT)
    rx = SrtpContext(B3_KEY, B3_SALT)
    for i in range(1, 6):
        out = tx.protect_rtcp(VALIDATE_RTCP)
        assert out[24:28] == bytes((0x80, 0, 0, i))
        assert rx.unprotect_rtcp(out) == VALIDATE_RTCP


def test_srtcp_index_runs_out_at_2_30():
    tx = SrtpContext(B3_KEY, B3_SALT)
    rx = SrtpContext(B3_KEY, B3_SALT)
    rx.unprotect_rtcp(tx.protect_rtcp(VALIDATE_RTCP))
    tx._rtcp.tx_index = 0x3FFFFFFE  # as if 2**30 - 3 more packets had gone
    last = tx.protect_rtcp(VALIDATE_RTCP)
    assert last[24:28] == b"\xbf\xff\xff\xff"  # E=1, index 2**30 - 1: the last small int
    assert rx.unprotect_rtcp(last) == VALIDATE_RTCP
    assert "re-key" in str(assert_raises(SrtpError, tx.protect_rtcp, VALIDATE_RTCP))
    assert tx._rtcp.tx_index == 0x3FFFFFFF


def test_srtcp_index_of_2_30_or_more_is_refused_and_changes_nothing():
    tx = SrtpContext(B3_KEY, B3_SALT)
    rx = SrtpContext(B3_KEY, B3_SALT)
    rx.unprotect_rtcp(tx.protect_rtcp(VALIDATE_RTCP))
    pkt = bytearray(tx.protect_rtcp(VALIDATE_RTCP))
    pkt[24] |= 0x40  # index 2**30 + 2 (the tag no longer matches either)
    top = rx._rtcp.rx_top
    assert "2**30" in str(assert_raises(SrtpError, rx.unprotect_rtcp, bytes(pkt)))
    assert rx._rtcp.rx_top == top


def test_roc_follows_wrap_with_reordering():
    key = bytes(range(1, 17))
    salt = bytes(range(2, 16))
    tx = SrtpContext(key, salt)
    rx = SrtpContext(key, salt)
    seq = 65500
    for _ in range(24):  # groups of 5 delivered as 4, 1, 2, 3, 0: 120 packets across the wrap
        group = []
        for _ in range(5):
            group.append((seq, tx.protect(rtp_packet(seq, payload=bytes((seq & 0xFF,)) * 20))))
            seq = (seq + 1) & 0xFFFF
        for i in (4, 1, 2, 3, 0):
            s, pkt = group[i]
            assert rx.unprotect(pkt) == rtp_packet(s, payload=bytes((s & 0xFF,)) * 20), s
    assert tx._tx_roc == 1 and tx._tx_sl == 83
    assert rx._rx_roc == 1 and rx._rx_sl == 83


def test_late_packet_from_previous_roc():
    key = bytes(16)
    salt = bytes(14)
    tx = SrtpContext(key, salt)
    late = tx.protect(rtp_packet(65530))
    wrapped = [tx.protect(rtp_packet(s)) for s in (65531, 65535, 0, 1, 2)]
    rx = SrtpContext(key, salt)
    for pkt in wrapped:
        rx.unprotect(pkt)
    assert rx._rx_roc == 1
    assert rx.unprotect(late) == rtp_packet(65530)  # estimated in ROC 0, inside the window
    assert rx._rx_roc == 1 and rx._rx_sl == 2


def test_first_packet_far_from_zero_with_roc_zero():
    # libsrtp's rule at roc 0: a sequence number more than half a cycle ahead is still roc 0
    tx = SrtpContext(bytes(16), bytes(14))
    a = tx.protect(rtp_packet(10))
    b = tx.protect(rtp_packet(40000))
    rx = SrtpContext(bytes(16), bytes(14))
    assert rx.unprotect(a) == rtp_packet(10)
    assert rx.unprotect(b) == rtp_packet(40000)
    assert rx._rx_roc == 0 and rx._rx_sl == 40000


def test_parameters_checked():
    assert_raises(SrtpError, SrtpContext, B3_KEY, B3_SALT, 8)
    assert_raises(SrtpError, SrtpContext, B3_KEY, B3_SALT, 10, 63)
    assert_raises(SrtpError, SrtpContext, B3_KEY, B3_SALT, 10, 0x8000)
    assert_raises(SrtpError, SrtpContext, B3_KEY[:15], B3_SALT)
    assert_raises(SrtpError, SrtpContext, B3_KEY, B3_SALT + b"\0")
    assert_raises(SrtpError, SrtpContext, B3_KEY, B3_SALT, impl="nope")
    assert issubclass(SrtpError, ValueError)
    # the largest window needs two 4 KiB bitmaps: too much for a fragmented 96 KiB test heap
    for window in (64, 100, 128, 1024) if ON_MICROPYTHON else (64, 100, 128, 1024, 0x7FFF):
        ctx = SrtpContext(B3_KEY, B3_SALT, 10, window, keystream_blocks=2)
        assert ctx._rx_window.size == window
        ctx = None
