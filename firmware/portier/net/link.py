# The signalling link to the switchboard (docs/protocol.md section 8): one TCP+TLS connection,
# <hello> then <ready>, frames of section 1 both ways, keepalive and reconnect with backoff.
# The timing decisions are portier.net.keepalive's (sans-IO); this is the thin asyncio edge:
# it connects, reads into one preallocated buffer, feeds the frame decoder, answers the
# switchboard's own pings, and puts every other stanza (and each <ready>) into the app's inbox
# (portier.app.Inbox) for its edge loop; it never calls up into the app. send() transmits.
# The stanza codec and link stanzas are imported where used (already loaded by then): importing
# this module alone stays small for the firmware import test's 128 KiB heap.
import asyncio
import time

from micropython import const

from portier.wire.framing import FrameDecoder, encode_frame

from . import keepalive as ka
from .streams import open_stream, sleep_ms, wait_for_ms

_RX_BUF = const(1024)  # one TLS record's worth of stanzas per read; frames may span reads
_MAX_FRAME = const(4096)  # an offer to 8 devices with pkmsg encs stays well under this
_CONNECT_MS = const(10000)
_OUTBOX_MAX = const(16)  # stanzas held while the link is down (the call engine's, say)
_IDLE_WAKE_MS = const(1000)  # the keepalive loop's longest sleep
# A write that has not drained by then (a peer that stopped reading, a dead path TCP has not
# noticed) breaks the link. Without it the caller (the app's edge loop) would hang, and the
# board's watchdog (30 s) would reset the board instead of the link reconnecting.
_WRITE_MS = const(10000)


# What the link puts into the inbox (the kinds portier.app's edge loop takes).
STANZA = "stanza"  # payload: the decoded node of every stanza after <ready> but ping/pong
READY = "ready"  # payload None: after each <ready>, once the held stanzas went out


class Link:
    """inbox: an object with `await put(kind, payload)` (portier.app.Inbox; None: the stanzas
    are dropped); trace(direction, node): called for every stanza sent ("out") or received
    ("in"); log(lvl, msg, **fields)."""

    def __init__(self, jid, host, port, inbox=None, ssl_ctx=None, server_hostname=None,
                 trace=None, log=None, rand16=None):
        self.jid = jid
        self.host = host
        self.port = port
        self.ssl_ctx = ssl_ctx
        self.server_hostname = server_hostname
        self.inbox = inbox
        self.trace = trace
        self.log = log or (lambda lvl, msg, **kw: None)
        self.timer = ka.LinkTimer(time.ticks_ms(), rand16)
        self.ready = False
        self.server_t = None  # the switchboard's clock at <ready> (UNIX seconds)
        self.ready_ticks = None
        self.connects = 0  # links that reached <ready>
        self.connect_ms = None  # connect -> <ready>, the last time
        self._buf = bytearray(_RX_BUF)
        self._stream = None
        self._outbox = []  # [ticks_ms held, node] pairs, oldest first
        self._lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self._ping_n = 0
        self._running = True
        self.write_timeout_ms = _WRITE_MS
        # A stanza held longer than the grace is dropped at <ready>: its call has ended
        # connection_lost by then, and a late offer or request would ring or ask for nobody.
        self.hold_ms = ka.GRACE_MS

    # ---- for the app ----

    def wall_time(self, now_ms):
        """UNIX seconds now, from the switchboard's clock at <ready>; 0 before any <ready>."""
        if self.server_t is None:
            return 0
        return self.server_t + time.ticks_diff(now_ms, self.ready_ticks) // 1000

    async def send(self, node):
        """Send now when the link is ready; otherwise hold it (bounded, oldest dropped) for the
        next <ready> if that comes within hold_ms. Returns True when it went out."""
        if not self.ready:
            if len(self._outbox) >= _OUTBOX_MAX:
                self._outbox.pop(0)
            self._outbox.append((time.ticks_ms(), node))
            return False
        try:
            await self._write(node)
            return True
        except Exception as e:  # the link just broke: the reader will notice too
            self.log("W", "send failed", error=repr(e))
            self._closed.set()
            return False

    def stop(self):
        self._running = False
        self._closed.set()

    async def run(self):
        """Connect, serve, reconnect with backoff, until stop()."""
        while self._running:
            try:
                await self._session()
            except Exception as e:
                self.log("W", "link error", error=repr(e))
            self._down()
            if self._stream is not None:
                stream, self._stream = self._stream, None
                await stream.close()
            if not self._running:
                break
            delay = self.timer.backoff_ms()
            self.log("I", "reconnect", wait_ms=delay)
            await sleep_ms(delay)

    # ---- the edge ----

    def _down(self):
        if self.ready:
            self.log("W", "link down")
        self.ready = False
        self.timer.down(time.ticks_ms())

    async def _write(self, node):
        from portier.wire import stanza as wire

        frame = encode_frame(wire.encode(node), _MAX_FRAME)
        async with self._lock:  # one drain at a time: concurrent drains would repeat bytes
            await wait_for_ms(self._stream.write(frame), self.write_timeout_ms)
        self.timer.sent(time.ticks_ms())
        if self.trace is not None:
            self.trace("out", node)

    async def _session(self):
        from portier.signaling import linkstanzas as ls

        t0 = time.ticks_ms()
        self._closed = asyncio.Event()
        self._stream = await wait_for_ms(
            open_stream(self.host, self.port, self.ssl_ctx, self.server_hostname), _CONNECT_MS)
        self._t0 = t0
        await self._write(ls.hello(self.jid))
        self.timer.connected(time.ticks_ms())
        reader = asyncio.create_task(self._read_loop(self._stream, FrameDecoder(_MAX_FRAME)))
        try:
            while not self._closed.is_set():
                now = time.ticks_ms()
                action = self.timer.poll(now)
                if action == ka.CLOSE:
                    self.log("W", "link silent", state=self.timer.state)
                    return
                if action == ka.PING:
                    self._ping_n += 1
                    await self._write(ls.ping("P%d" % self._ping_n))
                    continue
                wait = _IDLE_WAKE_MS
                deadline = self.timer.next_deadline()
                if deadline is not None:
                    wait = max(1, min(wait, time.ticks_diff(deadline, now)))
                try:
                    await wait_for_ms(self._closed.wait(), wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            reader.cancel()

    async def _read_loop(self, stream, decoder):
        buf = self._buf
        try:
            while True:
                n = await stream.readinto(buf)
                if not n:
                    self.log("I", "link closed by switchboard")
                    return
                self.timer.received(time.ticks_ms())
                decoder.feed(buf, n)
                while True:
                    frame = decoder.next_frame()
                    if frame is None:
                        break
                    await self._dispatch(frame)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.log("W", "link read", error=repr(e))
        finally:
            self._closed.set()

    async def _dispatch(self, frame):
        from portier.signaling import linkstanzas as ls
        from portier.wire import stanza as wire

        try:
            node = wire.decode(frame)
        except ValueError as e:
            self.log("W", "bad stanza", error=repr(e), bytes=len(frame))
            return
        if self.trace is not None:
            self.trace("in", node)
        tag = node.tag
        if tag in ("ready", "failure", "ping", "pong"):
            try:
                msg = ls.parse(node)
            except ValueError as e:
                self.log("W", "bad link stanza", error=repr(e))
                return
            return await self._on_link(msg)
        if not self.ready:
            self.log("W", "stanza before ready", tag=tag)
            return
        if self.inbox is not None:
            await self.inbox.put(STANZA, node)

    async def _on_link(self, msg):
        from portier.signaling import linkstanzas as ls

        kind = msg.kind
        if kind == "ping":
            await self._write(ls.pong(msg.id))
        elif kind == "failure":
            self.log("E", "switchboard refused", reason=msg.reason)
            self._closed.set()
        elif kind == "ready" and not self.ready:
            now = time.ticks_ms()
            self.timer.ready(now)
            self.ready = True
            self.server_t = msg.t
            self.ready_ticks = now
            self.connects += 1
            self.connect_ms = time.ticks_diff(now, self._t0)
            self.log("I", "ready", connect_ms=self.connect_ms, server_t=msg.t, n=self.connects)
            held, self._outbox = self._outbox, []
            for t, node in held:
                if time.ticks_diff(now, t) < self.hold_ms:
                    await self._write(node)
                else:
                    self.log("I", "held stanza dropped", tag=node.tag,
                             held_ms=time.ticks_diff(now, t))
            if self.inbox is not None:
                await self.inbox.put(READY, None)
