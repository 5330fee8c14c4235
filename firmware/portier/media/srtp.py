# SRTP and SRTCP (RFC 3711), AES_CM_128_HMAC_SHA1_80 and _32, interoperable with libsrtp, plus
# Portier's call key -> SRTP master derivation (docs/protocol.md section 5).
#
# The per-packet paths (protect_into / unprotect_into and their RTCP twins) work in place on a
# caller's bytearray and allocate nothing when the viper leaves are present: AES-CM keystream
# comes from one ECB call over a preallocated counter buffer, HMAC-SHA1 runs on a preallocated
# state with the key's pads compressed once, the replay window is a bytearray bitmap and no
# integer grows past the small-int range for any realistic stream.
from micropython import const

from ..crypto import sha1
from ..crypto.aes_cm import DEFAULT_BLOCKS, PY_IMPL, VIPER_IMPL, AesCm, KeystreamBuffer
from ..crypto.hkdf import hkdf


class SrtpError(ValueError):
    pass


_HDR = const(12)  # RTP fixed header; it and any CSRCs and header extension stay in clear
_RTCP_HDR = const(8)  # RTCP header + sender SSRC, left in clear by SRTCP
_RTCP_TAG = const(10)  # SRTCP keeps the 80-bit tag under both profiles, as libsrtp does
_RTCP_TRAILER = const(14)  # E|index word + tag
_MAX_PACKET = const(0xFFFF)  # a UDP payload; also keeps the HMAC's bit count in 32 bits
_MAX_RTCP_INDEX = const(0x7FFFFFFF)
_HALF = const(32768)
_SEQ_MOD = const(65536)
_M32 = 0xFFFFFFFF  # not const(): on a 32-bit board it is a long int
_MASTER_OKM = const(46)  # WAHKDF output: 16 key, 14 salt, 16 unused

# RFC 3711 4.3 labels
LABEL_RTP_KEY = const(0)
LABEL_RTP_AUTH = const(1)
LABEL_RTP_SALT = const(2)
LABEL_RTCP_KEY = const(3)
LABEL_RTCP_AUTH = const(4)
LABEL_RTCP_SALT = const(5)


def device_qualified(participant_id):
    """The participant id WAHKDF uses: `/resource` dropped, a bare `user@lid` gets device 0."""
    if isinstance(participant_id, (bytes, bytearray)):
        participant_id = bytes(participant_id).decode()
    slash = participant_id.find("/")
    if slash >= 0:
        participant_id = participant_id[:slash]
    at = participant_id.find("@")
    if at > 0 and participant_id[at + 1:] == "lid" and ":" not in participant_id[:at]:
        participant_id = participant_id[:at] + ":0@lid"
    return participant_id


def derive_master(call_key, participant_id):
    """(master_key16, master_salt14) for the sender `participant_id` (layer 1, WAHKDF)."""
    if len(call_key) < 32:
        raise SrtpError("call key must have at least 32 bytes")
    info = device_qualified(participant_id).encode()
    okm = hkdf(bytes(call_key[:32]), _MASTER_OKM, b"", info)
    return okm[:16], okm[16:30]


def derive_ssrc(call_id, participant_id, slot):
    """SSRC of `participant_id`'s stream `slot` (0 audio) in call `call_id` (REL-06)."""
    if slot < 0 or slot > _M32:
        raise SrtpError("slot out of range")
    if isinstance(call_id, str):
        call_id = call_id.encode()
    salt = bytes((slot & 0xFF, (slot >> 8) & 0xFF, (slot >> 16) & 0xFF, (slot >> 24) & 0xFF))
    out = hkdf(bytes(call_id), 4, salt, device_qualified(participant_id).encode())
    return out[0] | (out[1] << 8) | (out[2] << 16) | (out[3] << 24)


def session_key(master_key, master_salt, label, n, kbuf=None):
    """RFC 3711 4.3 PRF with kdr 0: n bytes of AES-CM(master_key, IV = (salt ^ label<<48)<<16)."""
    if len(master_key) != 16 or len(master_salt) != 14:
        raise SrtpError("master key must be 16 bytes and master salt 14")
    iv = bytearray(16)
    iv[:14] = master_salt
    iv[7] ^= label
    out = bytearray(n)
    AesCm(master_key, bytes(14), kbuf).crypt_iv_into(out, 0, n, iv)
    return bytes(out)


def _index_delta(roc, s_l, seq):
    # RFC 3711 Appendix A: signed distance from the highest index (roc, s_l) to the index the
    # sequence number most likely has. With roc 0 there is no roc - 1: like libsrtp, the packet
    # is then taken as ahead in roc 0.
    if s_l < _HALF:
        if seq - s_l > _HALF and roc:
            return seq - s_l - _SEQ_MOD
    elif s_l - _HALF > seq:
        return seq - s_l + _SEQ_MOD
    return seq - s_l


class _ReplayWindow:
    """RFC 3711 3.3.2 sliding window over packet indices, a circular bitmap whose size in bits
    is a power of two (so a 16-bit sequence number locates an RTP index's bit)."""

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
        # the highest index moves delta > 0 ahead of top_low: forget the bits it passes over
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


def _same_ssrc(ssrc, buf, at):
    return (ssrc[0] == buf[at] and ssrc[1] == buf[at + 1] and ssrc[2] == buf[at + 2]
            and ssrc[3] == buf[at + 3])


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
        if len(master_key) != 16 or len(master_salt) != 14:
            raise SrtpError("master key must be 16 bytes and master salt 14")
        xor_impl, mac = self._impls(impl)
        kbuf = KeystreamBuffer(keystream_blocks)

        def derive(label, n):
            return session_key(master_key, master_salt, label, n, kbuf)

        self._rtp_cipher = AesCm(derive(LABEL_RTP_KEY, 16), derive(LABEL_RTP_SALT, 14), kbuf,
                                 xor_impl)
        self._rtp_auth = mac(derive(LABEL_RTP_AUTH, 20))
        self._rtcp_cipher = AesCm(derive(LABEL_RTCP_KEY, 16), derive(LABEL_RTCP_SALT, 14), kbuf,
                                  xor_impl)
        self._rtcp_auth = mac(derive(LABEL_RTCP_AUTH, 20))
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
        self._rx_window = _ReplayWindow(window)
        # SRTCP: sender index (the first packet carries 1, as libsrtp's), receiver window
        self._rtcp_tx_index = 0
        self._rtcp_tx_ssrc = bytearray(4)
        self._rtcp_rx_started = False
        self._rtcp_rx_top = 0
        self._rtcp_rx_ssrc = bytearray(4)
        self._rtcp_rx_window = _ReplayWindow(window)
        self._rtcp_hdr = bytearray(12)  # RTP-header-shaped (seq, SSRC) view of an SRTCP index for AesCm

    @staticmethod
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
            return PY_IMPL, lambda key: sha1.CtxHmacSha1(key, sha1.PY_IMPL)
        raise SrtpError("unknown impl %r" % (impl,))

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
            if not _same_ssrc(self._tx_ssrc, buf, 8):
                raise SrtpError("SSRC is not this context's")
            roc = self._tx_roc
            sl = self._tx_sl
            delta = _index_delta(roc, sl, seq)
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
        hl = _rtp_header_len(buf, m)
        seq = (buf[2] << 8) | buf[3]
        started = self._rx_started
        if started:
            if not _same_ssrc(self._rx_ssrc, buf, 8):
                raise SrtpError("SSRC is not this context's")
            roc = self._rx_roc
            sl = self._rx_sl
            delta = _index_delta(roc, sl, seq)
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

    # -- RTCP ---------------------------------------------------------------------------------

    def _rtcp_iv_hdr(self, buf, index):
        h = self._rtcp_hdr
        h[2] = (index >> 8) & 0xFF
        h[3] = index & 0xFF
        for i in range(4):
            h[8 + i] = buf[4 + i]
        return h

    def protect_rtcp_into(self, buf, n):
        """Encrypt (E=1) and tag the compound RTCP packet buf[:n] in place; returns n + 14."""
        if n > _MAX_PACKET:
            raise SrtpError("packet too long")
        if n < _RTCP_HDR:
            raise SrtpError("truncated RTCP header")
        if n + _RTCP_TRAILER > len(buf):
            raise SrtpError("no room for the SRTCP trailer")
        if buf[0] >> 6 != 2:
            raise SrtpError("not RTCP version 2")
        if self._rtcp_tx_index and not _same_ssrc(self._rtcp_tx_ssrc, buf, 4):
            raise SrtpError("SSRC is not this context's")
        index = self._rtcp_tx_index + 1
        if index > _MAX_RTCP_INDEX:
            raise SrtpError("SRTCP index exhausted: re-key")
        self._rtcp_cipher.crypt_into(buf, _RTCP_HDR, n - _RTCP_HDR, self._rtcp_iv_hdr(buf, index),
                                     index >> 16)
        buf[n] = 0x80 | (index >> 24)
        buf[n + 1] = (index >> 16) & 0xFF
        buf[n + 2] = (index >> 8) & 0xFF
        buf[n + 3] = index & 0xFF
        word = (buf[n] << 24) | (index & 0xFFFFFF)
        self._rtcp_auth.sign_into(buf, n, word, n + 4, _RTCP_TAG)
        if self._rtcp_tx_index == 0:
            ssrc = self._rtcp_tx_ssrc
            for i in range(4):
                ssrc[i] = buf[4 + i]
        self._rtcp_tx_index = index
        return n + _RTCP_TRAILER

    def unprotect_rtcp_into(self, buf, n):
        """Verify and (if E) decrypt the SRTCP packet buf[:n] in place; returns the RTCP length.
        On any SrtpError the context's state and buf are unchanged."""
        if n > _MAX_PACKET:
            raise SrtpError("packet too long")
        if n < _RTCP_HDR + _RTCP_TRAILER:
            raise SrtpError("truncated SRTCP packet")
        if buf[0] >> 6 != 2:
            raise SrtpError("not RTCP version 2")
        m = n - _RTCP_TAG
        w = m - 4
        index = ((buf[w] & 0x7F) << 24) | (buf[w + 1] << 16) | (buf[w + 2] << 8) | buf[w + 3]
        started = self._rtcp_rx_started
        delta = 1
        if started:
            if not _same_ssrc(self._rtcp_rx_ssrc, buf, 4):
                raise SrtpError("SSRC is not this context's")
            delta = index - self._rtcp_rx_top
            if delta <= 0:
                if -delta >= self._rtcp_rx_window.size:
                    raise SrtpError("replay check failed (index too old)")
                if self._rtcp_rx_window.seen(index):
                    raise SrtpError("replay check failed (already received)")
        word = (buf[w] << 24) | (index & 0xFFFFFF)
        if not self._rtcp_auth.verify(buf, w, word, m, _RTCP_TAG):
            raise SrtpError("authentication failure")
        if buf[w] & 0x80:
            self._rtcp_cipher.crypt_into(buf, _RTCP_HDR, w - _RTCP_HDR,
                                         self._rtcp_iv_hdr(buf, index), index >> 16)
        if not started:
            self._rtcp_rx_started = True
            ssrc = self._rtcp_rx_ssrc
            for i in range(4):
                ssrc[i] = buf[4 + i]
            self._rtcp_rx_window.reset(index)
            self._rtcp_rx_top = index
        elif delta > 0:
            self._rtcp_rx_window.advance(self._rtcp_rx_top, delta, index)
            self._rtcp_rx_top = index
        else:
            self._rtcp_rx_window.mark(index)
        return w

    def protect_rtcp(self, rtcp):
        n = len(rtcp)
        buf = bytearray(n + _RTCP_TRAILER)
        buf[:n] = rtcp
        self.protect_rtcp_into(buf, n)
        return bytes(buf)

    def unprotect_rtcp(self, srtcp):
        buf = bytearray(srtcp)
        return bytes(buf[: self.unprotect_rtcp_into(buf, len(buf))])
