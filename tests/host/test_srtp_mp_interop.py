"""The board's code path against libsrtp: real MicroPython with the viper leaves protects a
stream that libsrtp must accept, and unprotects a lossy, reordered, duplicated libsrtp stream,
both profiles, across a 16-bit sequence wrap. (test_srtp_interop.py covers the same ground at
volume with the CPython path.)
"""

import os
import random
import struct

import pylibsrtp
import pytest

from portier_host import mprun, paths

paths.use_firmware()

from portier.media.srtp import derive_master  # noqa: E402

_SNIPPET = r"""
from portier.media.srtp import SrtpContext, SrtpError

def records(path):
    with open(path, "rb") as f:
        while True:
            head = f.read(2)
            if not head:
                return
            n = (head[0] << 8) | head[1]
            yield f.read(n)

def run(key, salt, tag_len, plain_path, libsrtp_path, out_path):
    tx = SrtpContext(key, salt, tag_len, impl="viper")
    rx = SrtpContext(key, salt, tag_len, impl="viper")
    buf = bytearray(1500)
    with open(out_path, "wb") as out:
        for pkt in records(plain_path):
            n = len(pkt)
            buf[:n] = pkt
            m = tx.protect_into(buf, n)
            out.write(bytes((m >> 8, m & 0xFF)))
            out.write(buf[:m])
        for pkt in records(libsrtp_path):
            n = len(pkt)
            buf[:n] = pkt
            try:
                m = rx.unprotect_into(buf, n)
                out.write(bytes((1, m >> 8, m & 0xFF)))
                out.write(buf[:m])
            except SrtpError as e:
                msg = str(e).encode()
                out.write(bytes((0, 0, len(msg))))
                out.write(msg)
    print("roc", tx._tx_roc, rx._rx_roc)

run(%r, %r, %d, %r, %r, %r)
"""

PROFILES = [
    (10, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80),
    (4, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32),
]


def _write(path, packets):
    with open(path, "wb") as f:
        for p in packets:
            f.write(struct.pack(">H", len(p)) + p)


def _rtp(seq, rng, ssrc=0x0BADCAFE):
    size = rng.choice((160, 160, 640, 0, 33))
    b0, ext = 0x80, b""
    if seq % 9 == 0:
        b0 |= 0x10
        ext = b"\xde\xbe\x00\x01\x30\x01\x00\x00"
    csrc = b""
    if seq % 13 == 0:
        b0 |= 2
        csrc = rng.randbytes(8)
    return (bytes((b0, 0)) + struct.pack(">HII", seq, rng.getrandbits(32), ssrc) + csrc + ext
            + rng.randbytes(size))


@pytest.mark.parametrize("tag_len,profile", PROFILES)
def test_micropython_viper_path_interoperates(tmp_path, tag_len, profile):
    rng = random.Random(tag_len)
    key, salt = derive_master(bytes(range(32, 64)), "door:%d@lid" % tag_len)
    seqs = [(64_900 + i) & 0xFFFF for i in range(1_500)]
    plain = [_rtp(s, rng) for s in seqs]

    libsrtp_tx = pylibsrtp.Session(pylibsrtp.Policy(
        key=key + salt, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    protected = [libsrtp_tx.protect(p) for p in plain]
    # network: drop every 17th, swap neighbours every 5th, replay every 50th 3 packets later
    order = [i for i in range(len(protected)) if i % 17 != 5]
    for k in range(0, len(order) - 1, 5):
        order[k], order[k + 1] = order[k + 1], order[k]
    delivered = []
    for k, i in enumerate(order):
        delivered.append(i)
        if k % 50 == 10:
            delivered.insert(len(delivered) - 3, i)  # the copy arrives first, 3 places early
    seen, expected = set(), []
    for i in delivered:
        expected.append(None if i in seen else plain[i])
        seen.add(i)

    plain_path, libsrtp_path, out_path = (str(tmp_path / n) for n in ("plain", "lib", "out"))
    _write(plain_path, plain)
    _write(libsrtp_path, [protected[i] for i in delivered])
    stdout = mprun.run_snippet(
        _SNIPPET % (key, salt, tag_len, plain_path, libsrtp_path, out_path), heapsize="1m",
        timeout=120)
    assert "roc 1 1" in stdout

    libsrtp_rx = pylibsrtp.Session(pylibsrtp.Policy(
        key=key + salt, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    with open(out_path, "rb") as f:
        data = f.read()
    pos = 0
    for p in plain:  # what MicroPython protected
        n = struct.unpack_from(">H", data, pos)[0]
        srtp = data[pos + 2: pos + 2 + n]
        pos += 2 + n
        assert len(srtp) == len(p) + tag_len
        assert libsrtp_rx.unprotect(srtp) == p
    for want in expected:  # what MicroPython made of libsrtp's stream
        ok, n = data[pos], struct.unpack_from(">H", data, pos + 1)[0]
        body = data[pos + 3: pos + 3 + n]
        pos += 3 + n
        if want is None:
            assert ok == 0 and b"replay" in body
        else:
            assert ok == 1 and body == want
    assert pos == len(data)
    os.remove(out_path)
