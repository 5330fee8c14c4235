# What a call's media path leaves unloaded to spare a board's heap: SRTCP (made on the first
# RTCP packet, portier.media.srtcp imported then) and RFC 4733 telephone-events
# (portier.media.dtmf). The RTCP that comes later is still right: keys derived lazily protect
# exactly as a context that derived them first (and test_srtp* / the libsrtp interop tests
# check SRTCP against RFC and libsrtp).
import sys

from coretest import ON_MICROPYTHON
from srtp_packets import VALIDATE_RTCP, rtp_packet

from portier.media.srtp import SrtpContext

KEY = bytes(range(16))
SALT = bytes(range(30, 44))


def test_rtp_stream_makes_no_srtcp_until_the_first_rtcp_packet():
    tx = SrtpContext(KEY, SALT)
    rx = SrtpContext(KEY, SALT)
    pkt = bytearray(rtp_packet(7, 0x1234, b"\x55" * 160) + bytes(10))
    n = tx.protect_into(pkt, len(pkt) - 10)
    assert rx.unprotect_into(pkt, n) == n - 10
    assert tx._rtcp is None and rx._rtcp is None
    late = tx.protect_rtcp(VALIDATE_RTCP)  # after RTP: derived now, from the kept master key
    assert tx._rtcp is not None and tx._rtcp_args is None
    early = SrtpContext(KEY, SALT).protect_rtcp(VALIDATE_RTCP)  # derived before any RTP
    assert late == early
    assert rx.unprotect_rtcp(late) == VALIDATE_RTCP


def test_media_session_import_loads_neither_srtcp_nor_dtmf():
    import portier.net.media  # noqa: F401  (what a call loads)
    from mediapair import pair

    pair(("l16", 16000), 16000)
    if ON_MICROPYTHON:  # one fresh process per module: nothing else imported them
        assert "portier.media.srtcp" not in sys.modules
        assert "portier.media.dtmf" not in sys.modules
