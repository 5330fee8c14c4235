# SRTCP (RFC 3711 3.4) for one SrtpContext: bytes 0..7 in clear, the rest encrypted, then
# E|index (31 bits) and an 80-bit HMAC-SHA1 tag under both profiles, as libsrtp does; its own
# replay window over the explicit index (docs/protocol.md 5.8).
from micropython import const

from .srtp_keys import SrtpError
from .srtp_replay import ReplayWindow, same_ssrc

_HDR = const(8)  # RTCP header + sender SSRC
_TAG = const(10)
_TRAILER = const(14)  # E|index word + tag
_MAX_PACKET = const(0xFFFF)
# RFC 3711 allows indices up to 2**31 - 1; Portier stops at 2**30 - 1, the largest small int
# on a 32-bit board (a re-key after a billion RTCP packets, about 170 years at one per 5 s),
# and refuses larger ones from a peer, so no index is ever a long int.
_MAX_INDEX = const(0x3FFFFFFF)


class SrtcpStream:
    """SrtpContext.protect_rtcp_into / unprotect_rtcp_into run here (documented there)."""

    TRAILER = _TRAILER

    def __init__(self, cipher, auth, window):
        self._cipher = cipher
        self._auth = auth
        self.tx_index = 0  # the first packet carries 1, as libsrtp numbers them
        self._tx_ssrc = bytearray(4)
        self.rx_started = False
        self.rx_top = 0
        self._rx_ssrc = bytearray(4)
        self.rx_window = ReplayWindow(window)
        self._hdr = bytearray(12)  # RTP-header-shaped (seq, SSRC) view of an index for AesCm

    def _iv_hdr(self, buf, index):
        h = self._hdr
        h[2] = (index >> 8) & 0xFF
        h[3] = index & 0xFF
        for i in range(4):
            h[8 + i] = buf[4 + i]
        return h

    def protect_into(self, buf, n):
        if n > _MAX_PACKET:
            raise SrtpError("packet too long")
        if n < _HDR:
            raise SrtpError("truncated RTCP header")
        if n + _TRAILER > len(buf):
            raise SrtpError("no room for the SRTCP trailer")
        if buf[0] >> 6 != 2:
            raise SrtpError("not RTCP version 2")
        if self.tx_index and not same_ssrc(self._tx_ssrc, buf, 4):
            raise SrtpError("SSRC is not this context's")
        index = self.tx_index + 1
        if index > _MAX_INDEX:
            raise SrtpError("SRTCP index exhausted: re-key")
        self._cipher.crypt_into(buf, _HDR, n - _HDR, self._iv_hdr(buf, index), index >> 16)
        buf[n] = 0x80 | (index >> 24)
        buf[n + 1] = (index >> 16) & 0xFF
        buf[n + 2] = (index >> 8) & 0xFF
        buf[n + 3] = index & 0xFF
        self._auth.sign_into(buf, n, -1, n + 4, _TAG)  # -1: E|index is buf[n:n+4] (bit 31 set)
        if self.tx_index == 0:
            ssrc = self._tx_ssrc
            for i in range(4):
                ssrc[i] = buf[4 + i]
        self.tx_index = index
        return n + _TRAILER

    def unprotect_into(self, buf, n):
        if n > _MAX_PACKET:
            raise SrtpError("packet too long")
        if n > len(buf):
            raise SrtpError("length beyond the buffer")
        if n < _HDR + _TRAILER:
            raise SrtpError("truncated SRTCP packet")
        if buf[0] >> 6 != 2:
            raise SrtpError("not RTCP version 2")
        m = n - _TAG
        w = m - 4
        if buf[w] & 0x40:
            raise SrtpError("SRTCP index beyond 2**30")
        index = ((buf[w] & 0x3F) << 24) | (buf[w + 1] << 16) | (buf[w + 2] << 8) | buf[w + 3]
        started = self.rx_started
        delta = 1
        if started:
            if not same_ssrc(self._rx_ssrc, buf, 4):
                raise SrtpError("SSRC is not this context's")
            delta = index - self.rx_top
            if delta <= 0:
                if -delta >= self.rx_window.size:
                    raise SrtpError("replay check failed (index too old)")
                if self.rx_window.seen(index):
                    raise SrtpError("replay check failed (already received)")
        if not self._auth.verify(buf, w, -1, m, _TAG):
            raise SrtpError("authentication failure")
        if buf[w] & 0x80:
            self._cipher.crypt_into(buf, _HDR, w - _HDR, self._iv_hdr(buf, index), index >> 16)
        if not started:
            self.rx_started = True
            ssrc = self._rx_ssrc
            for i in range(4):
                ssrc[i] = buf[4 + i]
            self.rx_window.reset(index)
            self.rx_top = index
        elif delta > 0:
            self.rx_window.advance(self.rx_top, delta, index)
            self.rx_top = index
        else:
            self.rx_window.mark(index)
        return w
