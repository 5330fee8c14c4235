# SRTP receiver bookkeeping (RFC 3711 3.3.1, 3.3.2, Appendix A): packet index estimation, the
# replay window, the SSRC check. Small ints only: nothing here allocates per packet.
from micropython import const

_HALF = const(32768)
_SEQ_MOD = const(65536)


def index_delta(roc, s_l, seq):
    """Signed distance from the highest index (roc, s_l) to the index seq most likely has.
    The packet's ROC is then roc + ((delta - seq + s_l) >> 16)."""
    # With roc 0 there is no roc - 1: like libsrtp, such a packet is taken as ahead in roc 0.
    if s_l < _HALF:
        if seq - s_l > _HALF and roc:
            return seq - s_l - _SEQ_MOD
    elif s_l - _HALF > seq:
        return seq - s_l + _SEQ_MOD
    return seq - s_l


class ReplayWindow:
    """Sliding window over packet indices: a circular bitmap whose size in bits is a power of
    two (so a 16-bit sequence number locates an RTP index's bit), `size` the window proper."""

    def __init__(self, size):
        bits = 64
        while bits < size:
            bits <<= 1
        self.size = size
        self._mask = bits - 1
        self._bm = bytearray(bits >> 3)

    def seen(self, low):
        p = low & self._mask
        return self._bm[p >> 3] & (1 << (p & 7))

    def reset(self, low):
        bm = self._bm
        for i in range(len(bm)):
            bm[i] = 0
        self.mark(low)

    def advance(self, top_low, delta, low):
        """The highest index moves delta > 0 past top_low to low: forget what it passes over."""
        bm = self._bm
        mask = self._mask
        if delta > mask:
            for i in range(len(bm)):
                bm[i] = 0
        else:
            for k in range(1, delta + 1):
                p = (top_low + k) & mask
                bm[p >> 3] &= 0xFF ^ (1 << (p & 7))
        self.mark(low)

    def mark(self, low):
        p = low & self._mask
        self._bm[p >> 3] |= 1 << (p & 7)


def same_ssrc(ssrc, buf, at):
    """ssrc (4 bytes) equals buf[at:at+4], compared without slicing."""
    return (ssrc[0] == buf[at] and ssrc[1] == buf[at + 1] and ssrc[2] == buf[at + 2]
            and ssrc[3] == buf[at + 3])
