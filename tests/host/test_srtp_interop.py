"""Interop with libsrtp (pylibsrtp): ours -> libsrtp and libsrtp -> ours, both profiles.

Each direction and profile carries 72,000 RTP packets over three SSRCs, every SSRC crossing a
16-bit sequence wrap, through a lossy network that drops, reorders (inside the replay window)
and duplicates packets; SRTCP runs both ways over the same network. The first copy of every
packet must decrypt to its plaintext; every later copy must be refused as a replay by whichever
side receives it.
"""

import random

import pylibsrtp
import pytest

from portier_host import paths

paths.use_firmware()

from portier.media.srtp import SrtpContext, SrtpError, derive_master  # noqa: E402

PROFILES = [
    (10, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80),
    (4, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32),
]
SSRCS = (0x11111111, 0xCAFEBABE, 0x00000001)
PACKETS = 72_000  # per direction and profile, over all SSRCs
RTCP_PACKETS = 600  # per direction and profile
MAX_DELAY = 40  # positions; per SSRC this stays inside both windows (ours and libsrtp's 128)


def _master(profile_tag):
    key, salt = derive_master(bytes(range(32)), "111111111111111:%d@lid" % profile_tag)
    return key, salt


def _rtp(seq, ssrc, rng):
    """An RTP packet with the odd CSRC list, header extension or padding mixed in."""
    kind = rng.random()
    csrcs = [rng.getrandbits(32) for _ in range(rng.randint(1, 3))] if kind < 0.1 else []
    b0 = 0x80 | len(csrcs)
    ext = b""
    if 0.1 <= kind < 0.2:
        b0 |= 0x10
        words = rng.randint(0, 3)
        ext = bytes((0xBE, 0xDE, 0, words)) + rng.randbytes(4 * words)
    payload = rng.randbytes(160 if kind < 0.7 else rng.randint(0, 400))
    if 0.2 <= kind < 0.25:
        b0 |= 0x20
        pad = rng.randint(1, 8)
        payload += bytes(pad - 1) + bytes((pad,))
    head = bytes((b0, rng.choice((0, 8, 96)))) + seq.to_bytes(2, "big")
    head += rng.getrandbits(32).to_bytes(4, "big") + ssrc.to_bytes(4, "big")
    for c in csrcs:
        head += c.to_bytes(4, "big")
    return head + ext + payload


def _rtcp(ssrc, rng):
    """A sender report plus an SDES chunk: a small compound RTCP packet."""
    sr = bytes((0x80, 200, 0, 6)) + ssrc.to_bytes(4, "big") + rng.randbytes(20)
    cname = b"portier"
    sdes = bytes((0x81, 202, 0, 4)) + ssrc.to_bytes(4, "big") + bytes((1, len(cname))) + cname
    sdes += bytes(16 - 2 - len(cname) - 4)
    return sr + sdes


def _network(packets, rng):
    """Delivery order for (id, bytes) items: 2 % lost, 10 % delayed, 1 % duplicated."""
    timed = []
    for pos, item in enumerate(packets):
        r = rng.random()
        if r < 0.02:
            continue
        delay = rng.randint(1, MAX_DELAY) if r < 0.12 else 0
        timed.append((pos + delay, pos, item))
        if rng.random() < 0.01:
            timed.append((pos + rng.randint(0, MAX_DELAY), pos, item))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [item for _, _, item in timed]


def _rtp_stream(rng, count):
    """(id, plaintext) in sending order: SSRCs interleaved, each wrapping its sequence."""
    seqs = {ssrc: 65536 - rng.randint(2_000, 20_000) for ssrc in SSRCS}
    first = dict(seqs)
    out = []
    for i in range(count):
        ssrc = SSRCS[i % len(SSRCS)]
        seq = seqs[ssrc]
        seqs[ssrc] = (seq + 1) & 0xFFFF
        out.append(((ssrc, i), _rtp(seq, ssrc, rng)))
    assert all(seqs[s] < first[s] for s in SSRCS)  # every SSRC went through 65535 -> 0
    return out


def _check_delivery(stream, sent, delivered, receive, replay_error):
    plain = dict(stream)
    seen = set()
    accepted = 0
    for pid, pkt in delivered:
        if pid in seen:
            with pytest.raises(replay_error) as err:
                receive(pid, pkt)
            assert "replay" in str(err.value)
            continue
        assert receive(pid, pkt) == plain[pid]
        seen.add(pid)
        accepted += 1
    assert accepted > 0.97 * len(sent)
    return accepted


@pytest.mark.parametrize("tag_len,profile", PROFILES)
def test_ours_to_libsrtp(tag_len, profile):
    rng = random.Random(1000 + tag_len)
    key, salt = _master(tag_len)
    ours = {ssrc: SrtpContext(key, salt, tag_len) for ssrc in SSRCS}
    libsrtp = pylibsrtp.Session(pylibsrtp.Policy(
        key=key + salt, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))

    stream = _rtp_stream(rng, PACKETS)
    sent = [(pid, ours[pid[0]].protect(pkt)) for pid, pkt in stream]
    assert all(len(s) == len(p) + tag_len for (_, p), (_, s) in zip(stream, sent))
    assert all(ctx._tx_roc == 1 for ctx in ours.values())
    accepted = _check_delivery(stream, sent, _network(sent, rng),
                               lambda pid, pkt: libsrtp.unprotect(pkt), pylibsrtp.Error)
    assert accepted > 0.97 * PACKETS

    rtcp = [((ssrc, i), _rtcp(ssrc, rng)) for i in range(RTCP_PACKETS) for ssrc in SSRCS]
    sent = [(pid, ours[pid[0]].protect_rtcp(pkt)) for pid, pkt in rtcp]
    assert all(len(s) == len(p) + 14 for (_, p), (_, s) in zip(rtcp, sent))
    _check_delivery(rtcp, sent, _network(sent, rng),
                    lambda pid, pkt: libsrtp.unprotect_rtcp(pkt), pylibsrtp.Error)


@pytest.mark.parametrize("tag_len,profile", PROFILES)
def test_libsrtp_to_ours(tag_len, profile):
    rng = random.Random(2000 + tag_len)
    key, salt = _master(tag_len)
    libsrtp = pylibsrtp.Session(pylibsrtp.Policy(
        key=key + salt, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    ours = {ssrc: SrtpContext(key, salt, tag_len) for ssrc in SSRCS}

    def receive(pid, pkt):
        return ours[int.from_bytes(pkt[8:12], "big")].unprotect(pkt)

    stream = _rtp_stream(rng, PACKETS)
    sent = [(pid, libsrtp.protect(pkt)) for pid, pkt in stream]
    accepted = _check_delivery(stream, sent, _network(sent, rng), receive, SrtpError)
    assert accepted > 0.97 * PACKETS
    assert all(ctx._rx_roc == 1 for ctx in ours.values())

    def receive_rtcp(pid, pkt):
        return ours[int.from_bytes(pkt[4:8], "big")].unprotect_rtcp(pkt)

    rtcp = [((ssrc, i), _rtcp(ssrc, rng)) for i in range(RTCP_PACKETS) for ssrc in SSRCS]
    sent = [(pid, libsrtp.protect_rtcp(pkt)) for pid, pkt in rtcp]
    _check_delivery(rtcp, sent, _network(sent, rng), receive_rtcp, SrtpError)


def test_tampered_libsrtp_packets_rejected_and_stream_continues():
    key, salt = _master(10)
    libsrtp = pylibsrtp.Session(pylibsrtp.Policy(
        key=key + salt, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    ours = SrtpContext(key, salt)
    rng = random.Random(7)
    for seq in range(65530, 65530 + 20):
        plain = _rtp(seq & 0xFFFF, SSRCS[0], rng)
        pkt = libsrtp.protect(plain)
        for _ in range(5):
            bad = bytearray(pkt)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            with pytest.raises(SrtpError):
                ours.unprotect(bytes(bad))
        assert ours.unprotect(pkt) == plain
