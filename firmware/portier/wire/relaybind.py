# Binding to the media relay (Portier extension; docs/protocol.md section 7).
# Each party of a call sends bind datagrams to the relay from its media socket: the relay
# learns the party's address from them and forwards SRTP between the caller's leg and the leg
# of the device that answered. The first byte, 0x50, has RTP version bits 01, so a bind can
# never be mistaken for RTP/RTCP (version 2, first byte 0x80-0xBF) on the same socket.
#
# Every leg has its own token (the switchboard mints one per callee at offer time): a public
# part naming the call, the leg and the leg's device, and a 16-byte leg key only the relay
# (from its secret) and the leg's device hold. A bind shows the public part and proves the key
# by an HMAC over the whole datagram, which names the address the party is bound from and a
# counter: a bind sniffed on the path replays neither from another address nor, once the
# party has moved, from its old one.
import hashlib

from micropython import const

from portier.crypto.hmac import Hmac, compare_digest

MAGIC0 = const(0x50)  # "P"
MAGIC1 = const(0x52)  # "R"
VERSION = const(2)
TYPE_BIND = const(1)  # party -> relay
TYPE_BOUND = const(2)  # relay -> party: bound (also the answer to keepalive binds)
TYPE_ADDRESS = const(3)  # relay -> party: "I see you at this address": bind again naming it
PUBLIC_LEN = const(17)  # handle 8 | leg 1 | device tag 4 | expiry 4
KEY_LEN = const(16)
TOKEN_LEN = const(PUBLIC_LEN + KEY_LEN)
TAG_LEN = const(4)
ADDR_LEN = const(6)  # IPv4 address and port, big-endian
MAC_LEN = const(10)
_COUNTER = const(4 + PUBLIC_LEN)
_ADDR = const(_COUNTER + 4)
_PEER = const(_ADDR + ADDR_LEN)
_MAC = const(_PEER + TAG_LEN)
BIND_LEN = const(_MAC + MAC_LEN)
LEG_CALLER = const(1)  # callee legs are numbered from 2 in the order of the offer
PID_CALLER = const(1)  # the relay block's self_pid of the caller
PID_CALLEE = const(2)
# What Binder.answer() makes of a datagram from the relay
NOT_FOR_US = const(0)
BOUND = const(1)
REBIND = const(2)  # the relay named our address: send a bind now
STALE = const(3)  # the relay's answer to one of our older binds (a retry crossed it): ignore


class RelayBindError(ValueError):
    pass


def device_tag(jid):
    """4 bytes naming a device within a call: the first bytes of SHA-256 of its JID."""
    return hashlib.sha256(jid.encode()).digest()[:TAG_LEN]


def is_bind(data):
    return len(data) >= 2 and data[0] == MAGIC0 and data[1] == MAGIC1


def split_public(public):
    """(handle, leg, device tag, expiry) of a token's public part."""
    if len(public) != PUBLIC_LEN:
        raise RelayBindError("public part of %d bytes" % len(public))
    p = bytes(public)
    return p[:8], p[8], p[9:13], int.from_bytes(p[13:17], "big")


def parse(data):
    """(kind, public, counter, addr, peer) of a well-formed datagram, MAC not checked
    (check_mac with the leg key); RelayBindError for anything else."""
    if len(data) != BIND_LEN or not is_bind(data):
        raise RelayBindError("not a bind datagram")
    if data[2] != VERSION:
        raise RelayBindError("bind version %d" % data[2])
    kind = data[3]
    if kind < TYPE_BIND or kind > TYPE_ADDRESS:
        raise RelayBindError("kind %d" % kind)
    d = bytes(data)
    return (kind, d[4:_COUNTER], int.from_bytes(d[_COUNTER:_ADDR], "big"), d[_ADDR:_PEER],
            d[_PEER:_MAC])


def _mac(hmac, buf):
    return hmac.digest(memoryview(buf)[:_MAC])[:MAC_LEN]


def check_mac(key, data):
    """True when the datagram's MAC is the one its leg key makes (constant time)."""
    return compare_digest(_mac(Hmac(key, hashlib.sha256), data), bytes(data[_MAC:BIND_LEN]))


def build_into(buf, key, kind, public, counter, addr, peer):
    """Write a datagram with its MAC into buf; returns its length."""
    if kind < TYPE_BIND or kind > TYPE_ADDRESS:
        raise RelayBindError("kind %d" % kind)
    if len(public) != PUBLIC_LEN or len(addr) != ADDR_LEN or len(peer) != TAG_LEN:
        raise RelayBindError("field sizes")
    if len(buf) < BIND_LEN:
        raise RelayBindError("buffer too small")
    if not 0 <= counter <= 0xFFFFFFFF:
        raise RelayBindError("counter %d" % counter)
    buf[0] = MAGIC0
    buf[1] = MAGIC1
    buf[2] = VERSION
    buf[3] = kind
    buf[4:_COUNTER] = public
    buf[_COUNTER:_ADDR] = counter.to_bytes(4, "big")
    buf[_ADDR:_PEER] = addr
    buf[_PEER:_MAC] = peer
    buf[_MAC:BIND_LEN] = _mac(key if isinstance(key, Hmac) else Hmac(key, hashlib.sha256), buf)
    return BIND_LEN


def build(key, kind, public, counter, addr, peer):
    buf = bytearray(BIND_LEN)
    build_into(buf, key, kind, public, counter, addr, peer)
    return bytes(buf)


class Binder:
    """A party's side of binding one leg (sans-IO). token: the leg's token from the relay
    block; answerer: the caller names the device that answered (its JID), a callee None.
    bind_into(buf) -> n writes the current bind; answer(buf, n) reads a datagram that starts
    with the magic: BOUND, REBIND (the relay told us our address: bind again at once), STALE
    (about our leg, but not the answer to our current bind: ignored) or NOT_FOR_US.

    The bind and the relay's "bound" answer to it are made once per (counter, address): a
    keepalive resends the same bind (the relay takes it from the address it names and nowhere
    else), so keepalives and their answers allocate nothing on the media path; only an address
    answer (call start, a NAT change) computes MACs."""

    def __init__(self, token, answerer=None):
        if len(token) != TOKEN_LEN:
            raise RelayBindError("token of %d bytes" % len(token))
        self._public = bytes(token[:PUBLIC_LEN])
        self._hmac = Hmac(bytes(token[PUBLIC_LEN:]), hashlib.sha256)
        self._peer = bytes(TAG_LEN) if answerer is None else device_tag(answerer)
        self._bind = bytearray(BIND_LEN)
        self._bound = bytearray(BIND_LEN)
        self._counter = 0
        self._make(bytes(ADDR_LEN))  # where the relay sees us: unknown until it says

    def _make(self, addr):
        self._counter += 1
        for buf, kind in ((self._bind, TYPE_BIND), (self._bound, TYPE_BOUND)):
            build_into(buf, self._hmac, kind, self._public, self._counter, addr, self._peer)

    def bind_into(self, buf):
        src = self._bind
        for i in range(BIND_LEN):
            buf[i] = src[i]
        return BIND_LEN

    def answer(self, buf, n):
        if n != BIND_LEN:
            return NOT_FOR_US
        if buf[3] == TYPE_BOUND:
            ref = self._bound  # the one answer the relay makes to our current bind
            diff = 0
            for i in range(_COUNTER):
                diff |= buf[i] ^ ref[i]
            if diff:
                return NOT_FOR_US
            for i in range(_COUNTER, BIND_LEN):
                diff |= buf[i] ^ ref[i]
            return BOUND if diff == 0 else STALE  # ours, for an older counter (or forged)
        if buf[3] != TYPE_ADDRESS or buf[2] != VERSION or bytes(buf[4:_COUNTER]) != self._public:
            return NOT_FOR_US
        if not compare_digest(_mac(self._hmac, buf), bytes(buf[_MAC:BIND_LEN])):
            return NOT_FOR_US
        if int.from_bytes(bytes(buf[_COUNTER:_ADDR]), "big") != self._counter:
            return STALE  # the answer to an older bind (a retry crossed the relay's answer)
        self._make(bytes(buf[_ADDR:_PEER]))
        return REBIND
