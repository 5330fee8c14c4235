# Property tests: RTP headers round-trip for any field values, the parser refuses garbage only
# with RtpError, and the jitter buffer survives any order, loss, duplication and wrap.
from hypothesis import given, settings
from hypothesis import strategies as st

from portier_host import paths

paths.use_firmware()

from portier.media import g711, jitter, rtp  # noqa: E402

u32 = st.integers(0, 0xFFFFFFFF)


@given(pt=st.integers(0, 127).filter(lambda p: not 72 <= p <= 76), seq=st.integers(0, 0xFFFF),
       ts=u32, ssrc=u32, marker=st.booleans(), payload=st.binary(max_size=200),
       csrcs=st.lists(u32, max_size=15), ext=st.one_of(st.none(), st.tuples(
           st.integers(0, 0xFFFF), st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4]))),
       pad=st.integers(0, 255))
def test_build_parse_round_trip(pt, seq, ts, ssrc, marker, payload, csrcs, ext, pad):
    pkt = rtp.build(pt, seq, ts, ssrc, payload, marker=marker, csrcs=csrcs, ext=ext, pad=pad)
    p = rtp.parse(pkt)
    assert (p.pt, p.seq, p.ts, p.ssrc, p.marker) == (pt, seq, ts, ssrc, marker)
    assert [p.csrc(pkt, i) for i in range(p.csrc_count)] == csrcs
    assert pkt[p.payload_off:p.payload_off + p.payload_len] == payload
    if ext is None:
        assert p.ext_profile == -1
    else:
        assert (p.ext_profile, pkt[p.ext_off:p.ext_off + p.ext_len]) == ext
    assert p.padding == pad


@given(st.binary(max_size=300))
def test_parser_refuses_garbage_with_its_own_error_only(data):
    p = rtp.RtpPacket()
    try:
        p.parse_into(data, len(data))
    except rtp.RtpError:
        assert (p.pt, p.seq, p.payload_len) == (0, 0, 0)  # untouched on failure
        return
    assert 0 <= p.payload_off <= len(data) and p.payload_len >= 0
    assert p.payload_off + p.payload_len + p.padding == len(data)


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 0xFFFF), events=st.lists(
    st.tuples(st.integers(-3, 40), st.integers(0, 60)), min_size=1, max_size=120))
def test_jitter_buffer_survives_any_arrival_pattern(start, events):
    n = 160
    jb = jitter.JitterBuffer(g711.decode_ulaw, n, n, 8000)
    payload = bytes(range(160))
    out = bytearray(2 * n)
    t = 0
    for k, (offset, delay) in enumerate(events):
        seq = (start + k + offset) & 0xFFFF  # reorder, duplicate, jump back, jump ahead
        jb.put(payload, 0, n, seq, (seq * n) & 0xFFFFFFFF, t + delay)
        kind = jb.pop_into(out, t + 20)
        assert kind in (jitter.FRAME_OK, jitter.FRAME_CONCEALED, jitter.FRAME_SILENCE)
        assert 0 <= jb.depth_ms() <= 20 * 16 and jb.min_ms <= jb.target_ms() <= jb.max_ms
        t += 20
    s = jb.stats
    assert s.played <= s.received
    assert s.received + s.duplicates + s.late + s.bad <= len(events)
