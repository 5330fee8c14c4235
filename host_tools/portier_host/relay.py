"""`portier relay`: the UDP media relay. It forwards SRTP between the two legs of a call and
never holds a key; anything from an address that is not bound to a call is dropped.

Tokens are stateless: the switchboard mints them with a secret it shares with the relay, so a
relay started on its own (`portier relay --secret-file F`) needs no control channel. A token is
handle (8 random bytes) | expiry (u32 BE unix seconds) | HMAC-SHA256(secret, handle|expiry)[:12].
Layout of bind datagrams: docs/protocol.md section 7 and firmware/portier/wire/relaybind.py.

Bindings can outlive the process: given a store (the switchboard's database when the relay runs
in-process), every new or moved leg is written there and a restarted relay forwards for them at
once, so a call in progress survives a switchboard restart (docs/protocol.md 8.3) instead of
waiting for both parties' next keepalive bind, which the media-silence hang-up may beat.
"""

import asyncio
import hashlib
import hmac
import os
import struct
import time

from . import paths

paths.use_firmware()
from portier.wire import relaybind  # noqa: E402

MAX_DATAGRAM = 1500
IDLE_TIMEOUT_S = 60  # a call with no packets for this long is unbound
_MAC_LEN = 12


def mint_token(secret, lifetime_s, now_s=None, handle=None):
    now_s = int(time.time() if now_s is None else now_s)
    handle = os.urandom(8) if handle is None else handle
    head = handle + struct.pack(">I", now_s + lifetime_s)
    return head + hmac.new(secret, head, hashlib.sha256).digest()[:_MAC_LEN]


def check_token(secret, token, now_s):
    """The token's handle if it is genuine and unexpired, else None."""
    if len(token) != relaybind.TOKEN_LEN:
        return None
    head, mac = token[:12], token[12:]
    if not hmac.compare_digest(hmac.new(secret, head, hashlib.sha256).digest()[:_MAC_LEN], mac):
        return None
    (expiry,) = struct.unpack(">I", head[8:12])
    return head[:8] if now_s <= expiry else None


class _Call:
    __slots__ = ("legs", "expiry", "last_s")

    def __init__(self, expiry, now_s):
        self.legs = {}  # pid -> address
        self.expiry = expiry
        self.last_s = now_s


class RelayCore:
    """Sans-IO relay: datagram(data, addr, now_s) -> list of (data, addr) to send.

    store: None, or an object keeping bindings across restarts (switchboard_db.Database):
    relay_legs() -> [(handle, pid, host, port, expiry)], save_relay_leg(handle, pid, host, port,
    expiry), forget_relay_call(handle). now_s: the clock for the loaded calls' idle timers."""

    def __init__(self, secret, store=None, now_s=None):
        self._secret = secret
        self._store = store
        self._calls = {}  # handle -> _Call
        self._by_addr = {}  # address -> (handle, pid)
        self.stats = {"forwarded": 0, "bound": 0, "dropped_unbound": 0, "dropped_no_peer": 0,
                      "dropped_bad_bind": 0, "dropped_oversize": 0, "restored": 0}
        if store is not None:
            self._restore(store.relay_legs(), time.time() if now_s is None else now_s)

    def _restore(self, legs, now_s):
        for handle, pid, host, port, expiry in legs:
            if now_s > expiry:
                self._store.forget_relay_call(handle)
                continue
            call = self._calls.get(handle)
            if call is None:
                call = self._calls[handle] = _Call(expiry, now_s)
            call.legs[pid] = (host, port)
            self._by_addr[(host, port)] = (handle, pid)
            self.stats["restored"] += 1

    def datagram(self, data, addr, now_s):
        if len(data) > MAX_DATAGRAM:
            self.stats["dropped_oversize"] += 1
            return []
        if relaybind.is_bind(data):
            return self._bind(data, addr, now_s)
        owner = self._by_addr.get(addr)
        if owner is None:
            self.stats["dropped_unbound"] += 1
            return []
        handle, pid = owner
        call = self._calls[handle]
        peer = call.legs.get(relaybind.PID_CALLEE if pid == relaybind.PID_CALLER else relaybind.PID_CALLER)
        call.last_s = now_s
        if peer is None:
            self.stats["dropped_no_peer"] += 1
            return []
        self.stats["forwarded"] += 1
        return [(data, peer)]

    def _bind(self, data, addr, now_s):
        try:
            kind, pid, token = relaybind.parse(data)
        except ValueError:
            self.stats["dropped_bad_bind"] += 1
            return []
        handle = check_token(self._secret, token, now_s) if kind == relaybind.TYPE_BIND else None
        if handle is None:
            self.stats["dropped_bad_bind"] += 1
            return []
        call = self._calls.get(handle)
        if call is None:
            call = self._calls[handle] = _Call(struct.unpack(">I", token[8:12])[0], now_s)
        old = call.legs.get(pid)
        if old is not None and old != addr:
            self._by_addr.pop(old, None)  # the party moved (NAT rebinding): follow it
        owner = self._by_addr.get(addr)
        if owner is not None and owner != (handle, pid):
            # The address served another leg before (a port the OS gave out again): that leg
            # loses it, so the other call's end cannot unbind this one.
            stale = self._calls.get(owner[0])
            if stale is not None and stale.legs.get(owner[1]) == addr:
                del stale.legs[owner[1]]
        if old != addr and self._store is not None:  # keepalive binds change nothing: no write
            self._store.save_relay_leg(handle, pid, addr[0], addr[1], call.expiry)
        call.legs[pid] = addr
        call.last_s = now_s
        self._by_addr[addr] = (handle, pid)
        self.stats["bound"] += 1
        return [(relaybind.build(relaybind.TYPE_BOUND, pid, token), addr)]

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
