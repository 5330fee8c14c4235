# RTP headers (RFC 3550) and telephone-event (RFC 4733): byte layouts written out by hand from
# the RFCs' figures, round trips, bounds, and an allocation-free send path.
from coretest import ON_MICROPYTHON, assert_raises, unhex
from portier.media import dtmf, rtp


def test_sender_header_layout_matches_rfc3550_figure():
    s = rtp.RtpSender(0xDEADBEEF, 0x1234, 0x89ABCDEF)
    buf = bytearray(20)
    assert s.audio_into(buf, rtp.PT_PCMU, True, 160) == 12
    #            V=2 M|PT  seq   timestamp  SSRC
    assert bytes(buf[:12]) == unhex("80 80 1234 89ABCDEF DEADBEEF")
    s.audio_into(buf, rtp.PT_PCMA, False, 160)
    assert bytes(buf[:12]) == unhex("80 08 1235 89ABCE8F DEADBEEF")
    assert s.timestamp() == 0x89ABCDEF + 320


def test_sender_wraps_sequence_and_timestamp():
    s = rtp.RtpSender(1, 0xFFFF, 0xFFFFFF60)  # 160 samples before the 32-bit wrap
    buf = bytearray(12)
    s.audio_into(buf, rtp.PT_L16, False, 160)
    assert bytes(buf[2:8]) == unhex("FFFF FFFFFF60")
    s.audio_into(buf, rtp.PT_L16, False, 160)
    assert bytes(buf[2:8]) == unhex("0000 00000000")
    s.audio_into(buf, rtp.PT_L16, False, 160)
    assert bytes(buf[2:8]) == unhex("0001 000000A0")
    s.advance(0x10000)  # a carry across the 16-bit halves
    assert s.timestamp() == 0x10000 + 0x140


def test_parse_round_trips_every_header_feature():
    payload = bytes(range(7))
    pkt = rtp.build(96, 65535, 0xFFFFFFFF, 0x01020304, payload, marker=True,
                    csrcs=(0xAABBCCDD, 5), ext=(0xBEDE, b"\x10\x20\x30\x40"), pad=5)
    assert pkt[0] == 0x80 | 0x20 | 0x10 | 2 and pkt[1] == 0x80 | 96
    assert len(pkt) == 12 + 8 + 4 + 4 + 7 + 5 and pkt[-1] == 5
    p = rtp.parse(pkt)
    assert (p.marker, p.pt, p.seq, p.ts, p.ssrc) == (True, 96, 65535, 0xFFFFFFFF, 0x01020304)
    assert p.csrc_count == 2 and p.csrc(pkt, 0) == 0xAABBCCDD and p.csrc(pkt, 1) == 5
    assert p.ext_profile == 0xBEDE and pkt[p.ext_off:p.ext_off + p.ext_len] == b"\x10\x20\x30\x40"
    assert pkt[p.payload_off:p.payload_off + p.payload_len] == payload and p.padding == 5
    plain = rtp.parse(rtp.build(0, 7, 8, 9, b"abc"))
    assert (plain.marker, plain.ext_profile, plain.padding, plain.payload_off) == (False, -1, 0, 12)
    assert_raises(rtp.RtpError, plain.csrc, pkt, 0)


def test_bad_packets_are_refused_and_change_nothing():
    good = rtp.build(8, 100, 1000, 42, bytes(160))
    p = rtp.parse(good)
    bad = [
        good[:11],                                            # shorter than the fixed header
        bytes([0x40]) + good[1:],                             # version 1
        bytes([0x80, 0xC8]) + good[2:],                       # RTCP SR (PT 72 + marker) muxed
        bytes([0x8F]) + good[1:20],                           # 15 CSRCs in a 20-byte packet
        bytes([0x90]) + good[1:14],                           # extension header cut short
        bytes([0x90]) + good[1:12] + unhex("BEDE 0010") + bytes(8),  # 16 words promised
        bytes([0xA0]) + good[1:-1] + b"\x00",                 # padding count 0
        bytes([0xA0]) + good[1:-1] + b"\xff",                 # more padding than payload
        bytes(rtp.MAX_PACKET + 1),
    ]
    for i, pkt in enumerate(bad):
        e = assert_raises(rtp.RtpError, p.parse_into, pkt, len(pkt))
        assert isinstance(e, ValueError), i
        assert (p.pt, p.seq, p.ts, p.ssrc, p.payload_len) == (8, 100, 1000, 42, 160), i
    assert_raises(rtp.RtpError, p.parse_into, good, len(good) + 1)  # n beyond the buffer
    assert_raises(rtp.RtpError, rtp.build, 128, 0, 0, 0, b"")


def test_telephone_event_layout_rfc4733_figure1():
    buf = bytearray(4)
    assert dtmf.event_into(buf, 0, 11, True, 10, 1280) == 4  # '#', end, -10 dBm0, 160 ms @ 8 kHz
    assert bytes(buf) == unhex("0B 8A 0500")
    assert dtmf.parse_event(buf, 0, 4) == (11, True, 10, 1280)
    assert_raises(rtp.RtpError, dtmf.parse_event, buf, 0, 3)
    assert_raises(rtp.RtpError, dtmf.event_into, buf, 0, 1, False, 64, 0)


def test_dtmf_sender_sequence_and_receiver_reports_once():
    s = rtp.RtpSender(0x11223344, 500, 8000)
    d = dtmf.DtmfSender(s, rtp.PT_EVENT_8K, 160)
    d.start("5", 480)  # 60 ms: three updates, the last one with E, sent three times
    assert d.active()
    assert_raises(rtp.RtpError, d.start, "7", 160)
    buf = bytearray(16)
    pkts = []
    while d.active():
        n = d.packet_into(buf)
        assert n == 16
        pkts.append(bytes(buf[:n]))
    assert len(pkts) == 5 and d.packet_into(buf) == 0
    parsed = [rtp.parse(p) for p in pkts]
    assert [p.seq for p in parsed] == [500, 501, 502, 503, 504]
    assert all(p.ts == 8000 and p.pt == 101 for p in parsed)  # the event keeps its start time
    assert [p.marker for p in parsed] == [True, False, False, False, False]
    events = [dtmf.parse_event(pk, 12, 4) for pk in pkts]
    assert [e[3] for e in events] == [160, 320, 480, 480, 480]
    assert [e[1] for e in events] == [False, False, True, True, True]
    assert s.timestamp() == 8000 + 5 * 160  # the media clock ran on meanwhile
    rx = dtmf.DtmfReceiver()
    got = [rx.feed(p, pk) for p, pk in zip(parsed, pkts)]
    assert got == ["5", None, None, None, None]
    d.start("#", 160)
    while d.active():
        n = d.packet_into(buf)
        assert rx.feed(rtp.parse(bytes(buf[:n])), buf) in ("#", None)
    assert rx.events == 2
    for bad in ("", "55", "x", 256, -1):
        assert_raises(rtp.RtpError, d.start, bad, 160)


def test_send_path_allocates_nothing():
    import micropython

    s = rtp.RtpSender(0xFEDCBA98, 65000, 0xF0000000)  # values above 2**30 on purpose
    d = dtmf.DtmfSender(s, rtp.PT_EVENT_8K, 160)
    d.start("1", 320)
    pkt = bytearray(12 + 160)
    p = rtp.RtpPacket()
    micropython.heap_lock()
    try:
        for _ in range(700):  # crosses the sequence wrap
            s.audio_into(pkt, rtp.PT_PCMU, False, 160)
        while d.active():
            d.packet_into(pkt)
    finally:
        micropython.heap_unlock()
    p.parse_into(pkt, 16)
    assert p.seq == (65000 + 703) & 0xFFFF and p.ssrc == 0xFEDCBA98
    assert ON_MICROPYTHON or s.timestamp() == (0xF0000000 + 704 * 160) & 0xFFFFFFFF


def test_payload_table_matches_codecs():
    from portier.media import g711

    for pt, (name, rate, width, event_pt) in rtp.AUDIO_PT.items():
        assert pt in g711.ENCODERS and pt in g711.DECODERS, name
        n = rate // 50  # 20 ms
        pcm = bytearray(2 * n)
        payload = bytearray(width * n)
        assert g711.ENCODERS[pt](pcm, payload, n) == width * n
        assert g711.DECODERS[pt](payload, pcm, n) == 2 * n
        assert event_pt == (rtp.PT_EVENT_8K if rate == 8000 else rtp.PT_EVENT_16K)
    assert rtp.AUDIO_PT[rtp.PT_L16][:3] == ("L16", 16000, 2)
