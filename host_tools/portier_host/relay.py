"""`portier relay`: the UDP media relay. It forwards SRTP between the two legs of a call and
never holds a key; anything from an address that is not bound to a call is dropped.

Tokens are stateless: the switchboard mints one per leg with a secret it shares with the relay,
so a relay started on its own (`portier relay --secret-file F`) needs no control channel. A
token is its public part (handle, leg, the leg's device tag, expiry) and the leg key
HMAC-SHA256(secret, label | public)[:16]; a bind proves the key without showing it. The caller's
binds name the device that answered; only that callee leg is joined to the caller's. Layout of
bind datagrams: docs/protocol.md section 7 and firmware/portier/wire/relaybind.py.

Bindings can outlive the process: given a store (the switchboard's database when the relay runs
in-process), every new or moved leg is written there and a restarted relay forwards for them at
once, so a call in progress survives a switchboard restart (docs/protocol.md 8.3) instead of
waiting for both parties' next keepalive bind, which the media-silence hang-up may beat.
"""

import asyncio
import hashlib
import hmac
import os
import socket
import struct
import time

from . import paths
from .ratelimit import Buckets

paths.use_firmware()
from portier.wire import relaybind  # noqa: E402

MAX_DATAGRAM = 1500
IDLE_TIMEOUT_S = 60  # a call with no packets for this long is unbound
LEG_CALLER = relaybind.LEG_CALLER
MAX_CALLEES = 254  # legs 2..255
_NO_TAG = bytes(relaybind.TAG_LEN)
_LEG_KEY_LABEL = b"portier-relay-leg-1"
# Bind limits (docs/security.md section 4). A device binds once or twice at a call's start and
# then every 10 s: per source IP (a household's NAT), 20 bind datagrams a second with bursts of
# 40, counted before any HMAC is computed; per leg, an address change (a NAT rebinding, a phone
# changing networks) every 2 s with bursts of 4, so one leg key cannot churn the bindings (and
# the database writes behind them) from hundreds of ports.
BIND_RATE = (20.0, 40)
MOVE_RATE = (0.5, 4)
_RATE_KEYS = 4096


def leg_key(secret, public):
    """The 16-byte key of a leg: only the relay's secret makes it from the public part."""
    return hmac.new(secret, _LEG_KEY_LABEL + public, hashlib.sha256).digest()[:relaybind.KEY_LEN]


def mint_token(secret, lifetime_s, now_s=None, handle=None, leg=relaybind.LEG_CALLER, device=""):
    """The token of one leg of a call: public part (handle, leg number, the leg's device tag,
    expiry) and the leg key. Every leg of one call shares the handle (pass the caller's)."""
    now_s = int(time.time() if now_s is None else now_s)
    handle = os.urandom(8) if handle is None else handle
    if not 1 <= leg <= 255 or len(handle) != 8:
        raise ValueError("leg %r, handle of %d bytes" % (leg, len(handle)))
    public = handle + bytes([leg]) + relaybind.device_tag(device) + struct.pack(">I", now_s + lifetime_s)
    return public + leg_key(secret, public)


def call_tokens(secret, lifetime_s, caller, callees, now_s=None):
    """The tokens of one call: the caller's (leg 1), then one per callee (legs 2, 3, ...)."""
    handle = os.urandom(8)
    jids = [caller] + list(callees)[:MAX_CALLEES]
    return [mint_token(secret, lifetime_s, now_s, handle, leg, jid)
            for leg, jid in enumerate(jids, LEG_CALLER)]


def check_token(secret, token, now_s):
    """The token's handle if it is genuine and unexpired, else None."""
    if len(token) != relaybind.TOKEN_LEN:
        return None
    public, key = token[:relaybind.PUBLIC_LEN], token[relaybind.PUBLIC_LEN:]
    if not hmac.compare_digest(leg_key(secret, public), key):
        return None
    handle, _leg, _tag, expiry = relaybind.split_public(public)
    return handle if now_s <= expiry else None


def _packed(addr):
    try:
        return socket.inet_aton(addr[0]) + struct.pack(">H", addr[1])
    except OSError:  # not IPv4: such a party can never name its address, so never binds
        return None


class _Call:
    __slots__ = ("legs", "tags", "counters", "answer", "expiry", "last_s")

    def __init__(self, expiry, now_s):
        self.legs = {}  # leg -> address
        self.tags = {}  # leg -> the leg's device tag
        self.counters = {}  # leg -> (counter, datagram) of its latest bind (memory only)
        self.answer = None  # the device tag the caller's binds name: the answered leg's
        self.expiry = expiry
        self.last_s = now_s

    def peer_of(self, leg):
        """The address a datagram from `leg` goes to: caller <-> the answered leg only."""
        if self.answer is None:
            return None
        if leg == relaybind.LEG_CALLER:
            for other, tag in self.tags.items():
                if other != leg and tag == self.answer:
                    return self.legs.get(other)
            return None
        if self.tags.get(leg) != self.answer:
            return None
        return self.legs.get(relaybind.LEG_CALLER)


class RelayCore:
    """Sans-IO relay: datagram(data, addr, now_s) -> list of (data, addr) to send.

    store: None, or an object keeping bindings across restarts (switchboard_db.Database):
    relay_legs() -> [(handle, leg, host, port, expiry, tags)], save_relay_leg(handle, leg,
    host, port, expiry, tags), forget_relay_call(handle); tags = the leg's device tag and the
    device it names as answerer (caller leg), 8 bytes. now_s: the clock for the loaded calls'
    idle timers."""

    def __init__(self, secret, store=None, now_s=None):
        self._secret = secret
        self._store = store
        self._calls = {}  # handle -> _Call
        self._by_addr = {}  # address -> (handle, leg)
        self.stats = {"forwarded": 0, "bound": 0, "dropped_unbound": 0, "dropped_no_peer": 0,
                      "dropped_bad_bind": 0, "dropped_oversize": 0, "restored": 0,
                      "addressed": 0, "dropped_stale_bind": 0, "dropped_not_answered": 0,
                      "dropped_bind_rate": 0, "dropped_move_rate": 0}
        self._bind_rate = Buckets(BIND_RATE[0], BIND_RATE[1], _RATE_KEYS)
        self._move_rate = Buckets(MOVE_RATE[0], MOVE_RATE[1], _RATE_KEYS)
        if store is not None:
            self._restore(store.relay_legs(), time.time() if now_s is None else now_s)

    def _restore(self, legs, now_s):
        for handle, leg, host, port, expiry, tags in legs:
            if now_s > expiry or tags is None or len(tags) != 2 * relaybind.TAG_LEN:
                self._store.forget_relay_call(handle)  # expired, or from before leg tokens
                continue
            call = self._calls.get(handle)
            if call is None:
                call = self._calls[handle] = _Call(expiry, now_s)
            call.legs[leg] = (host, port)
            call.tags[leg] = tags[:relaybind.TAG_LEN]
            if leg == relaybind.LEG_CALLER and tags[relaybind.TAG_LEN:] != _NO_TAG:
                call.answer = tags[relaybind.TAG_LEN:]
            self._by_addr[(host, port)] = (handle, leg)
            self.stats["restored"] += 1

    def datagram(self, data, addr, now_s):
        if len(data) > MAX_DATAGRAM:
            self.stats["dropped_oversize"] += 1
            return []
        if relaybind.is_bind(data):
            if not self._bind_rate.allow(addr[0], now_s):
                self.stats["dropped_bind_rate"] += 1
                return []
            return self._bind(data, addr, now_s)
        owner = self._by_addr.get(addr)
        if owner is None:
            self.stats["dropped_unbound"] += 1
            return []
        handle, leg = owner
        call = self._calls[handle]
        call.last_s = now_s
        peer = call.peer_of(leg)
        if peer is None:
            self.stats["dropped_no_peer"] += 1
            return []
        self.stats["forwarded"] += 1
        return [(data, peer)]

    def _bind(self, data, addr, now_s):
        try:
            kind, public, counter, named, peer = relaybind.parse(data)
            handle, leg, tag, expiry = relaybind.split_public(public)
        except ValueError:
            self.stats["dropped_bad_bind"] += 1
            return []
        key = leg_key(self._secret, public)
        if kind != relaybind.TYPE_BIND or now_s > expiry or not relaybind.check_mac(key, data):
            self.stats["dropped_bad_bind"] += 1
            return []
        seen = _packed(addr)
        if seen is None:
            self.stats["dropped_bad_bind"] += 1
            return []
        if named != seen:
            # The bind names another address (the party does not know its own yet, or a NAT
            # moved it, or it is a copy sent from elsewhere): say where we see it, bind nothing.
            # Only the leg key's holder can turn that into a bind.
            self.stats["addressed"] += 1
            return [(relaybind.build(key, relaybind.TYPE_ADDRESS, public, counter, seen, peer), addr)]
        call = self._calls.get(handle)
        if call is not None:
            last, last_bind = call.counters.get(leg, (0, None))
            if data == last_bind and call.legs.get(leg) == addr:  # a keepalive: no change
                call.last_s = now_s
                return [(relaybind.build(key, relaybind.TYPE_BOUND, public, counter, seen, peer),
                         addr)]
            if counter <= last:
                self.stats["dropped_stale_bind"] += 1  # a replay, or overtaken by a later bind
                return []
        if leg == relaybind.LEG_CALLER:
            if peer == _NO_TAG or (call is not None and call.answer not in (None, peer)):
                self.stats["dropped_bad_bind"] += 1  # the caller names the answerer, once
                return []
        elif call is not None and call.answer is not None and tag != call.answer:
            self.stats["dropped_not_answered"] += 1  # answered elsewhere: this leg is over
            return []
        if call is not None and call.legs.get(leg) not in (None, addr) and \
                not self._move_rate.allow((handle, leg), now_s):
            self.stats["dropped_move_rate"] += 1  # the leg keeps its address; nothing changes
            return []
        if call is None:
            call = self._calls[handle] = _Call(expiry, now_s)
        call.counters[leg] = (counter, bytes(data))
        if leg == relaybind.LEG_CALLER:
            call.answer = peer
        old = call.legs.get(leg)
        if old is not None and old != addr:
            self._by_addr.pop(old, None)  # the party moved (NAT rebinding): follow it
        owner = self._by_addr.get(addr)
        if owner is not None and owner != (handle, leg):
            # The address served another leg before (a port the OS gave out again): that leg
            # loses it, so the other call's end cannot unbind this one.
            stale = self._calls.get(owner[0])
            if stale is not None and stale.legs.get(owner[1]) == addr:
                del stale.legs[owner[1]]
        if old != addr and self._store is not None:  # keepalive binds change nothing: no write
            self._store.save_relay_leg(handle, leg, addr[0], addr[1], call.expiry,
                                       tag + (peer if leg == relaybind.LEG_CALLER else _NO_TAG))
        call.legs[leg] = addr
        call.tags[leg] = tag
        call.last_s = now_s
        self._by_addr[addr] = (handle, leg)
        self.stats["bound"] += 1
        return [(relaybind.build(key, relaybind.TYPE_BOUND, public, counter, seen, peer), addr)]

    def expire(self, now_s):
        """Unbind calls that went quiet or whose token expired; returns how many."""
        gone = [h for h, c in self._calls.items()
                if now_s - c.last_s > IDLE_TIMEOUT_S or now_s > c.expiry]
        for handle in gone:
            for addr in self._calls.pop(handle).legs.values():
                if self._by_addr.get(addr, (handle,))[0] == handle:
                    self._by_addr.pop(addr, None)
            if self._store is not None:
                self._store.forget_relay_call(handle)
        return len(gone)

    def calls(self):
        return len(self._calls)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, core):
        self.core = core
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        for out, dest in self.core.datagram(data, addr, time.time()):
            self.transport.sendto(out, dest)


class Relay:
    """The relay on a UDP socket; use `await Relay.start(secret, host, port)`."""

    def __init__(self, core, transport, protocol, sweeper):
        self.core = core
        self._transport = transport
        self._sweeper = sweeper
        self.address = transport.get_extra_info("sockname")[:2]

    @classmethod
    async def start(cls, secret, host="127.0.0.1", port=0, store=None):
        core = RelayCore(secret, store)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(core), local_addr=(host, port))
        sweeper = asyncio.ensure_future(cls._sweep(core))
        return cls(core, transport, protocol, sweeper)

    @staticmethod
    async def _sweep(core):
        while True:
            await asyncio.sleep(5)
            core.expire(time.time())

    def close(self):
        self._sweeper.cancel()
        self._transport.close()


async def serve_forever(secret, host, port):
    relay = await Relay.start(secret, host, port)
    print("relay: listening on udp %s:%d" % relay.address, flush=True)
    try:
        while True:
            await asyncio.sleep(60)
            print("relay: %d calls, %r" % (relay.core.calls(), relay.core.stats), flush=True)
    finally:
        relay.close()
