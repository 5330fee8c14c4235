# Shared by the SRTP core tests: published packets (RFC 3711 B.3 master key, libsrtp
# srtp_validate) and an RTP packet builder. Not a test module itself.
from coretest import unhex

B3_KEY = unhex("E1F97A0D3E018BE0D64FA32C06DE4139")
B3_SALT = unhex("0EC675AD498AFEEBB6960B3AABE6")
VALIDATE_RTP = unhex("800f1234decafbadcafebabe" + "ab" * 16)
VALIDATE_SRTP = unhex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb")
VALIDATE_RTCP = unhex("81c8000bcafebabe" + "ab" * 16)
VALIDATE_SRTCP = unhex("81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001"
                       "993e08cd54d6c1230798")


def rtp_packet(seq, ssrc=0xCAFEBABE, payload=b"\xab" * 16, ts=0xDECAFBAD, pt=15, csrcs=(),
               ext=None, pad=0):
    b0 = 0x80 | len(csrcs)
    if ext is not None:
        b0 |= 0x10
    if pad:
        b0 |= 0x20
    out = bytearray((b0, pt, (seq >> 8) & 0xFF, seq & 0xFF))
    for v in (ts, ssrc) + tuple(csrcs):
        out += bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))
    if ext is not None:
        profile, words = ext
        out += bytes((profile >> 8, profile & 0xFF, 0, len(words) // 4)) + words
    out += payload
    if pad:
        out += bytes(pad - 1) + bytes((pad,))
    return bytes(out)
