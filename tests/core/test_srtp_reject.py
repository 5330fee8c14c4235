# Bad input to the SRTP receiver: every tampered, truncated, replayed, stale, foreign or forged
# packet raises SrtpError and leaves the context (and the caller's buffer) exactly as it was.
from coretest import assert_raises
from portier.media.srtp import SrtpContext, SrtpError
from srtp_packets import B3_KEY, B3_SALT, VALIDATE_RTCP, rtp_packet

KEY = bytes(range(16))
SALT = bytes(range(30, 44))


def state(ctx):
    rtcp = ctx._srtcp()  # made on first use
    return (ctx._rx_started, ctx._rx_roc, ctx._rx_sl, bytes(ctx._rx_ssrc),
            bytes(ctx._rx_window._bm), rtcp.rx_started, rtcp.rx_top, bytes(rtcp._rx_ssrc),
            bytes(rtcp.rx_window._bm), ctx._tx_started, ctx._tx_roc, ctx._tx_sl,
            bytes(ctx._tx_ssrc), rtcp.tx_index, bytes(rtcp._tx_ssrc))


def rejected(ctx, pkt, rtcp=False):
    """pkt is refused with SrtpError; state and the buffer are unchanged. Returns the error."""
    before = state(ctx)
    buf = bytearray(pkt)
    fn = ctx.unprotect_rtcp_into if rtcp else ctx.unprotect_into
    err = assert_raises(SrtpError, fn, buf, len(buf))
    assert state(ctx) == before, err
    assert buf == pkt, err
    return err


def _streams(tag_len):
    tx = SrtpContext(KEY, SALT, tag_len)
    rx = SrtpContext(KEY, SALT, tag_len)
    return tx, rx


def test_every_bit_flip_of_srtp_is_rejected():
    for tag_len in (10, 4):
        tx, rx = _streams(tag_len)
        first = tx.protect(rtp_packet(700, payload=bytes(range(20))))
        assert rx.unprotect(first)
        pkt = tx.protect(rtp_packet(701, payload=bytes(range(20))))
        for i in range(len(pkt)):
            for bit in range(8):
                bad = bytearray(pkt)
                bad[i] ^= 1 << bit
                rejected(rx, bytes(bad))
        assert rx.unprotect(pkt) == rtp_packet(701, payload=bytes(range(20)))


def test_every_bit_flip_of_srtcp_is_rejected():
    tx = SrtpContext(B3_KEY, B3_SALT)
    rx = SrtpContext(B3_KEY, B3_SALT)
    rx.unprotect_rtcp(tx.protect_rtcp(VALIDATE_RTCP))
    pkt = tx.protect_rtcp(VALIDATE_RTCP)
    for i in range(len(pkt)):
        for bit in range(8):
            bad = bytearray(pkt)
            bad[i] ^= 1 << bit
            rejected(rx, bytes(bad), rtcp=True)
    assert rx.unprotect_rtcp(pkt) == VALIDATE_RTCP


def test_truncations_rejected():
    tx, rx = _streams(10)
    pkt = tx.protect(rtp_packet(9, csrcs=(5,), ext=(0xBEDE, b"\x10\x01\x00\x00")))
    for n in range(len(pkt)):
        rejected(rx, pkt[:n])
    rtcp = tx.protect_rtcp(VALIDATE_RTCP)
    for n in range(len(rtcp)):
        rejected(rx, rtcp[:n], rtcp=True)
    assert rx.unprotect(pkt)
    assert rx.unprotect_rtcp(rtcp) == VALIDATE_RTCP


def test_header_lengths_beyond_the_packet():
    tx, rx = _streams(10)
    rx.unprotect(tx.protect(rtp_packet(1)))
    pkt = bytearray(tx.protect(rtp_packet(2, payload=b"")))  # 12-byte header + tag only
    pkt[0] |= 0x0F  # 15 CSRCs that are not there
    assert "truncated" in str(rejected(rx, bytes(pkt)))
    pkt = bytearray(tx.protect(rtp_packet(3, payload=b"\x00\x00\x00\x00", ext=(1, b""))))
    pkt[15] = 200  # extension length past the end
    assert "truncated" in str(rejected(rx, bytes(pkt)))
    pkt = bytearray(tx.protect(rtp_packet(4)))
    pkt[0] = 0x40  # version 1
    assert "version" in str(rejected(rx, bytes(pkt)))


def test_replay_rejected_and_reorder_inside_window_accepted():
    tx, rx = _streams(10)
    pkts = [tx.protect(rtp_packet(s)) for s in range(100, 110)]
    for i in (0, 5, 2, 9, 1):
        rx.unprotect(pkts[i])
    for i in (0, 5, 2, 9, 1):
        assert "replay" in str(rejected(rx, pkts[i]))
    for i in (3, 4, 6, 7, 8):
        assert rx.unprotect(pkts[i]) == rtp_packet(100 + i)
    for p in pkts:
        rejected(rx, p)


def test_window_edge():
    for window in (64, 100, 128):
        tx = SrtpContext(KEY, SALT, 10, window)
        rx = SrtpContext(KEY, SALT, 10, window)
        oldest = tx.protect(rtp_packet(1000 - window + 1))
        too_old = tx.protect(rtp_packet(1000 - window))
        rx.unprotect(tx.protect(rtp_packet(1000)))
        assert "too old" in str(rejected(rx, too_old)), window
        assert rx.unprotect(oldest) == rtp_packet(1000 - window + 1)
        rejected(rx, oldest)


def test_window_edge_across_wrap():
    tx, rx = _streams(10)
    behind = tx.protect(rtp_packet(65535 - 100))  # index 65435
    edge = tx.protect(rtp_packet(65535 - 99))  # index 65436: 127 behind 65563
    rx.unprotect(tx.protect(rtp_packet(65535 - 200)))
    rx.unprotect(tx.protect(rtp_packet(27)))  # ROC 1, index 65563
    assert "too old" in str(rejected(rx, behind))
    assert rx.unprotect(edge) == rtp_packet(65535 - 99)
    assert rx._rx_roc == 1


def test_wrong_key_rejected():
    tx = SrtpContext(KEY, SALT)
    rx = SrtpContext(KEY, bytes(14))
    assert "authentication" in str(rejected(rx, tx.protect(rtp_packet(1))))
    assert "authentication" in str(rejected(rx, tx.protect_rtcp(VALIDATE_RTCP), rtcp=True))
    rx = SrtpContext(KEY, SALT, tag_len=4)  # other profile: the tag length differs
    rejected(rx, SrtpContext(KEY, SALT).protect(rtp_packet(1)))


def test_forged_packets_between_valid_ones_leave_stream_undisturbed():
    tx, rx = _streams(10)
    seed = 12345
    for seq in range(200, 260):
        assert rx.unprotect(tx.protect(rtp_packet(seq))) == rtp_packet(seq)
        for jump in (1, 40, 30000, 32769, 65000):  # forgeries ahead, far ahead, "next ROC"
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            forged = bytearray(rtp_packet((seq + jump) & 0xFFFF)) + bytearray(10)
            for i in range(12, len(forged)):
                forged[i] = (seed >> (i % 23)) & 0xFF
            rejected(rx, bytes(forged))
    assert rx._rx_roc == 0 and rx._rx_sl == 259


def test_foreign_ssrc_rejected():
    tx, rx = _streams(10)
    rx.unprotect(tx.protect(rtp_packet(1, ssrc=0x11111111)))
    other = SrtpContext(KEY, SALT).protect(rtp_packet(2, ssrc=0x22222222))
    assert "SSRC" in str(rejected(rx, other))
    assert_raises(SrtpError, tx.protect, rtp_packet(2, ssrc=0x22222222))


def test_protect_refusals_change_nothing():
    tx = SrtpContext(KEY, SALT)
    before = state(tx)
    pkt = bytearray(rtp_packet(5))
    assert "room" in str(assert_raises(SrtpError, tx.protect_into, pkt, len(pkt)))
    assert_raises(SrtpError, tx.protect, b"\x80\x00\x00")
    assert_raises(SrtpError, tx.protect, b"\x00" + rtp_packet(5)[1:])
    assert_raises(SrtpError, tx.protect_rtcp, b"\x80\xc8\x00")
    assert_raises(SrtpError, tx.protect_rtcp, b"\x01" + VALIDATE_RTCP[1:])
    assert state(tx) == before
    assert pkt == rtp_packet(5)


def test_oversized_packets_refused():
    # the length is checked before the buffer is touched, so a short buffer shows it
    tx, rx = _streams(10)
    buf = bytearray(rtp_packet(1)) + bytearray(10)
    assert "too long" in str(assert_raises(SrtpError, tx.protect_into, buf, 0x10000))
    assert "too long" in str(assert_raises(SrtpError, rx.unprotect_into, buf, 0x10000))
    assert "too long" in str(assert_raises(SrtpError, tx.protect_rtcp_into, buf, 0x10000))
    assert "too long" in str(assert_raises(SrtpError, rx.unprotect_rtcp_into, buf, 0x10000))
    assert state(rx) == state(SrtpContext(KEY, SALT))


def test_length_beyond_buffer_refused():
    tx, rx = _streams(10)
    pkt = bytearray(tx.protect(rtp_packet(1)))
    assert "beyond" in str(assert_raises(SrtpError, rx.unprotect_into, pkt, len(pkt) + 1))
    rtcp = bytearray(tx.protect_rtcp(VALIDATE_RTCP))
    assert "beyond" in str(assert_raises(SrtpError, rx.unprotect_rtcp_into, rtcp, len(rtcp) + 1))
    assert state(rx) == state(SrtpContext(KEY, SALT))
    assert rx.unprotect_into(pkt, len(pkt)) == len(pkt) - 10
