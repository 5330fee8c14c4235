# SRTP and SRTCP (RFC 3711), AES_CM_128_HMAC_SHA1_80 and _32, interoperable with libsrtp
# (docs/protocol.md section 5). Keys: srtp_keys.py; index estimation and replay window:
# srtp_replay.py; SRTCP: srtcp.py. The public names all come from here.
#
# protect_into / unprotect_into work in place on a caller's bytearray and allocate nothing when
# the viper leaves are present: AES-CM is one ECB call over a preallocated counter buffer,
# HMAC-SHA1 runs on a preallocated state with the key's pads compressed once, the replay window
# is a bytearray bitmap, and no integer outgrows a small int for any realistic stream.
from micropython import const

from ..crypto import sha1
from ..crypto.aes_cm import DEFAULT_BLOCKS, PY_IMPL, VIPER_IMPL, AesCm, KeystreamBuffer
from .srtp_keys import (  # derive_*, device_qualified, session_key: re-exported for callers
                        LABEL_RTCP_AUTH, LABEL_RTCP_KEY, LABEL_RTCP_SALT, LABEL_RTP_AUTH,
                        LABEL_RTP_KEY, LABEL_RTP_SALT, SrtpError, check_master,
                        derive_master, derive_ssrc, device_qualified, session_key)
from .srtp_replay import ReplayWindow, index_delta, same_ssrc

_HDR = const(12)  # RTP fixed header; it and any CSRCs and header extension stay in clear
_MAX_PACKET = const(0xFFFF)  # a UDP payload; also keeps the HMAC's bit count in 32 bits
_M32 = 0xFFFFFFFF  # not const(): a long int on a 32-bit board


def _rtp_header_len(buf, n):
    if n < _HDR:
        raise SrtpError("truncated RTP header")
    b0 = buf[0]
    if b0 >> 6 != 2:
        raise SrtpError("not RTP version 2")
    hl = _HDR + ((b0 & 0x0F) << 2)
    if b0 & 0x10:
        if hl + 4 > n:
            raise SrtpError("truncated RTP header extension")
        hl += 4 + (((buf[hl + 2] << 8) | buf[hl + 3]) << 2)
    if hl > n:
        raise SrtpError("truncated RTP header")
    return hl


def _impls(impl):
    if impl == "auto":
        impl = "viper" if VIPER_IMPL and sha1.VIPER_IMPL else "hashlib"
    if impl == "viper":
        if not (VIPER_IMPL and sha1.VIPER_IMPL):
            raise SrtpError("no viper emitter in this runtime")
        return VIPER_IMPL, lambda key: sha1.CtxHmacSha1(key, sha1.VIPER_IMPL)
    if impl == "hashlib":
        return PY_IMPL, sha1.HashlibHmacSha1
    if impl == "python":
        return PY_IMPL, lambda key: sha1.CtxHmacSha1(key, sha1.py_impl())
    raise SrtpError("unknown impl %r" % (impl,))


class SrtpContext:
    """One SRTP stream (one SSRC) each way under one master key and salt.

    The sender side numbers packets with the RTP sequence numbers it is given (ROC from their
    wraps); the receiver side estimates ROC, checks the replay window, verifies the tag and only
    then decrypts and updates its state. Each side binds to the SSRC of its first packet.
    tag_len 10 = AES_CM_128_HMAC_SHA1_80, 4 = AES_CM_128_HMAC_SHA1_32 (RTP only; SRTCP keeps 10).
    impl: "auto" (viper where present, else pure XOR + hashlib HMAC), "viper", "hashlib" or
    "python" (the pure-Python twins throughout; the reference, and slow).
    """

    def __init__(self, master_key, master_salt, tag_len=10, window=128,
                 keystream_blocks=DEFAULT_BLOCKS, impl="auto"):
        if tag_len not in (4, 10):
            raise SrtpError("tag_len must be 10 (HMAC_SHA1_80) or 4 (HMAC_SHA1_32)")
        if window < 64 or window > 0x7FFF:
            raise SrtpError("replay window must be 64..32767")
        check_master(master_key, master_salt)
        xor_impl, mac = _impls(impl)
        kbuf = KeystreamBuffer(keystream_blocks)

        key, salt = bytes(master_key), bytes(master_salt)  # the caller may reuse its buffers

        def derive(label, n):
            return session_key(key, salt, label, n, kbuf)

        self._rtp_cipher = AesCm(derive(LABEL_RTP_KEY, 16), derive(LABEL_RTP_SALT, 14), kbuf,
                                 xor_impl)
        self._rtp_auth = mac(derive(LABEL_RTP_AUTH, 20))
        # SRTCP keys, cipher, MAC and window are made at the first RTCP packet: a Portier call
        # sends none, and a board then holds neither srtcp.py nor a second cipher and MAC.
        self._rtcp = None
        self._rtcp_args = (derive, kbuf, xor_impl, mac, window)
        self._tag_len = tag_len
        # sender RTP: highest index sent (roc, s_l), bound SSRC
        self._tx_started = False
        self._tx_roc = 0
        self._tx_sl = 0
        self._tx_ssrc = bytearray(4)
        # receiver RTP
        self._rx_started = False
        self._rx_roc = 0
        self._rx_sl = 0
        self._rx_ssrc = bytearray(4)
        self._rx_window = ReplayWindow(window)

    # -- RTP ----------------------------------------------------------------------------------

    def protect_into(self, buf, n):
        """Encrypt and tag the RTP packet buf[:n] in place; returns the SRTP length n + tag."""
        t = self._tag_len
        if n > _MAX_PACKET:
            raise SrtpError("packet too long")
        if n + t > len(buf):
            raise SrtpError("no room for the tag")
        hl = _rtp_header_len(buf, n)
        seq = (buf[2] << 8) | buf[3]
        if self._tx_started:
            if not same_ssrc(self._tx_ssrc, buf, 8):
                raise SrtpError("SSRC is not this context's")
            roc = self._tx_roc
            sl = self._tx_sl
            delta = index_delta(roc, sl, seq)
            v = roc + ((delta - seq + sl) >> 16)
            if v > _M32:
                v = 0
        else:
            delta = 1
            v = 0
        self._rtp_cipher.crypt_into(buf, hl, n - hl, buf, v)
        self._rtp_auth.sign_into(buf, n, v, n, t)
        if delta > 0:
            if not self._tx_started:
                self._tx_started = True
                ssrc = self._tx_ssrc
                for i in range(4):
                    ssrc[i] = buf[8 + i]
            self._tx_roc = v
            self._tx_sl = seq
        return n + t

    def unprotect_into(self, buf, n):
        """Verify and decrypt the SRTP packet buf[:n] in place; returns the RTP length.
        On any SrtpError the context's state and buf are unchanged."""
        t = self._tag_len
        m = n - t
        if n > _MAX_PACKET:
            raise SrtpError("packet too long")
        if n > len(buf):
            raise SrtpError("length beyond the buffer")
        hl = _rtp_header_len(buf, m)
        seq = (buf[2] << 8) | buf[3]
        started = self._rx_started
        if started:
            if not same_ssrc(self._rx_ssrc, buf, 8):
                raise SrtpError("SSRC is not this context's")
            roc = self._rx_roc
            sl = self._rx_sl
            delta = index_delta(roc, sl, seq)
            if delta <= 0:
                if -delta >= self._rx_window.size:
                    raise SrtpError("replay check failed (index too old)")
                if self._rx_window.seen(seq):
                    raise SrtpError("replay check failed (already received)")
            v = roc + ((delta - seq + sl) >> 16)
            if v > _M32:
                v = 0
        else:
            delta = 1
            v = 0
        if not self._rtp_auth.verify(buf, m, v, m, t):
            raise SrtpError("authentication failure")
        self._rtp_cipher.crypt_into(buf, hl, m - hl, buf, v)
        if not started:
            self._rx_started = True
            ssrc = self._rx_ssrc
            for i in range(4):
                ssrc[i] = buf[8 + i]
            self._rx_roc = 0
            self._rx_sl = seq
            self._rx_window.reset(seq)
        elif delta > 0:
            self._rx_window.advance(self._rx_sl, delta, seq)
            self._rx_roc = v
            self._rx_sl = seq
        else:
            self._rx_window.mark(seq)
        return m

    def protect(self, rtp):
        n = len(rtp)
        buf = bytearray(n + self._tag_len)
        buf[:n] = rtp
        self.protect_into(buf, n)
        return bytes(buf)

    def unprotect(self, srtp):
        buf = bytearray(srtp)
        return bytes(buf[: self.unprotect_into(buf, len(buf))])

    # -- RTCP (srtcp.py) ---------------------------------------------------------------------

    def _srtcp(self):
        """The SRTCP stream, made on first use (allocates then; later packets do not)."""
        if self._rtcp is None:
            from .srtcp import SrtcpStream

            derive, kbuf, xor_impl, mac, window = self._rtcp_args
            self._rtcp = SrtcpStream(
                AesCm(derive(LABEL_RTCP_KEY, 16), derive(LABEL_RTCP_SALT, 14), kbuf, xor_impl),
                mac(derive(LABEL_RTCP_AUTH, 20)), window)
            self._rtcp_args = None
        return self._rtcp

    def protect_rtcp_into(self, buf, n):
        """Encrypt (E=1) and tag the compound RTCP packet buf[:n] in place; returns n + 14."""
        return self._srtcp().protect_into(buf, n)

    def unprotect_rtcp_into(self, buf, n):
        """Verify and (if E) decrypt the SRTCP packet buf[:n] in place; returns the RTCP length.
        On any SrtpError the context's state and buf are unchanged."""
        return self._srtcp().unprotect_into(buf, n)

    def protect_rtcp(self, rtcp):
        n = len(rtcp)
        stream = self._srtcp()
        buf = bytearray(n + stream.TRAILER)
        buf[:n] = rtcp
        stream.protect_into(buf, n)
        return bytes(buf)

    def unprotect_rtcp(self, srtcp):
        buf = bytearray(srtcp)
        return bytes(buf[: self._srtcp().unprotect_into(buf, len(buf))])
