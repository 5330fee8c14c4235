# The media of one call on a UDP socket to the relay: the asyncio edge around the sans-IO
# portier.media.session.MediaCore. Runs on MicroPython (board, host `micropython`) and CPython
# (phones, simulator); the only runtime differences live in the _Udp adapter and _sleep_ms.
#
# Three tasks share the core:
#   send:    bind to the relay (every 200 ms until it answers, then every 10 s), then one
#            microphone frame -> one SRTP packet per 20 ms
#   receive: datagrams -> core (bind answers, SRTP into the jitter buffer)
#   play:    one jitter-buffer frame -> speaker per 20 ms
# Pacing: a realtime audio device (I2S, VirtualAudio(realtime=True)) blocks in read_frame /
# write_frame and so sets the pace; otherwise (VirtualAudio from WAV files with
# realtime=False) each loop keeps its own ticks_ms schedule of 20 ms.
import socket
import sys
import time

import asyncio
from micropython import const

from ..media.dsp import ECHO_HALF, EchoControl, copy_into
from ..media.session import FRAME_MS, MediaCore
from ..wire import relaybind

_MICROPYTHON = sys.implementation.name == "micropython"
_MAX_DATAGRAM = const(1500)
_BIND_POLL_MS = const(20)  # how often the send loop looks whether the relay has answered
_RESYNC_MS = const(100)  # a schedule further behind than this restarts from now (no bursts)
_EAGAIN = const(11)


if _MICROPYTHON:
    async def _sleep_ms(ms):
        await asyncio.sleep_ms(ms)

    def _readable(sock):
        # The community pattern for a datagram socket under MicroPython's asyncio (it has no
        # datagram endpoints): park this task on the poller until the socket is readable.
        yield asyncio.core._io_queue.queue_read(sock)
else:
    async def _sleep_ms(ms):
        await asyncio.sleep(ms / 1000)


class _Udp:
    """A connected, non-blocking UDP socket: send(buf, n) and await receive_into(buf) -> n."""

    def __init__(self, host, port):
        addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(addr)
        s.setblocking(False)
        self.sock = s
        self.send_errors = 0
        self._views = {}  # CPython: one memoryview per packet length

    def send(self, buf, n):
        try:
            if _MICROPYTHON:
                # Stream write with a length: one datagram of buf[:n], no slice allocated.
                self.sock.write(buf, n)
            else:
                v = self._views.get(n)
                if v is None or v.obj is not buf:
                    v = self._views[n] = memoryview(buf)[:n]
                self.sock.send(v)
        except OSError:  # a full send buffer, or ICMP unreachable from the relay: drop
            self.send_errors += 1

    async def receive_into(self, buf):
        """Waits for one datagram and copies it into buf; returns its length (the excess of a
        datagram longer than buf is lost). MicroPython has no recv_into on sockets, so there
        each datagram costs one bytes object from recv() (~n bytes + header): the one
        allocation per received packet in the media path."""
        if not _MICROPYTHON:
            return await asyncio.get_event_loop().sock_recv_into(self.sock, buf)
        while True:
            try:
                data = self.sock.recv(len(buf))
            except OSError as e:
                if e.args[0] != _EAGAIN:
                    raise
                data = None
            if data is not None:
                n = len(data)
                copy_into(buf, data, 0, n)
                return n
            await _readable(self.sock)

    def close(self):
        self.sock.close()


class MediaSession:
    """The media of one call, from the relay block of the engine's "media" event to stop().

    own_jid / peer_jid: this device's and the answering (or calling) device's JIDs; call_id,
    call_key (32 bytes) and codec ((name, rate)) from the event; relay_host / relay_port: the
    relay's address (the app turns the relay block's 6-byte IPv4 endpoint into them);
    relay_token (this leg's, relaybind.TOKEN_LEN bytes) and pid (1 caller, 2 callee) from the relay block; audio: an
    opened portier.hal.audio device (its rate may differ from the codec's: resampled).
    echo: optional dsp.EchoControl (door units; the board file's audio.echo_control). A
    half-duplex device (a shared I2S bus) is switched by it between listening and speaking:
    the speaker gets the bus while the far end holds the floor (EchoControl.speaking(), with
    its hold time), else the microphone; such a device without one gets a half-duplex one,
    as its speaker would otherwise never be switched on. now_ms: the clock, ticks_ms by default.

    await run() until stop(); `stats` (MediaStats: .to_dict()) counts packets and frames;
    bound_ms / first_tx_ms / first_rx_ms / started_ms are ticks_ms values (None until they
    happen), for "accept -> first audio" timings. Until the relay answers, binds go out every
    200 ms without end: the app decides when a call without media is over (stop()).
    """

    def __init__(self, own_jid, peer_jid, call_id, call_key, codec, relay_host, relay_port,
                 relay_token, pid, audio, echo=None, jitter_min_ms=20, jitter_max_ms=200,
                 now_ms=None):
        self._shared_bus = getattr(audio, "half_duplex", False)
        if self._shared_bus and echo is None:
            echo = EchoControl(mode=ECHO_HALF)
        self.core = MediaCore(own_jid, peer_jid, call_id, call_key, codec, relay_token, pid,
                              audio_rate=audio.rate, jitter_min_ms=jitter_min_ms,
                              jitter_max_ms=jitter_max_ms, echo=echo)
        self.stats = self.core.stats
        self.audio = audio
        self._speaking = False  # a shared bus starts listening (the device opens it so)
        self.bus_switches = 0
        self._relay = (relay_host, relay_port)
        self._now = now_ms or time.ticks_ms
        self._realtime = getattr(audio, "realtime", True)
        fb = self.core.audio_frame_bytes
        self._mic = bytearray(fb)
        self._spk = bytearray(fb)
        self._pkt = bytearray(self.core.packet_bytes)
        self._bind = bytearray(relaybind.BIND_LEN)
        # Room for a Portier packet plus CSRCs/extension from another stack; on MicroPython
        # recv() allocates this much per datagram, so it stays near the packet size.
        self._rx = bytearray(min(_MAX_DATAGRAM, self.core.packet_bytes + 64))
        self._udp = None
        self._tasks = []
        self._stopped = asyncio.Event()
        self.error = None  # the exception that ended a loop, if any
        self.recv_errors = 0  # socket errors on receive (ICMP unreachable), survived
        self.started_ms = self.bound_ms = self.first_tx_ms = self.first_rx_ms = None
        self.on_first_audio = None  # called once, when the first audio packet is accepted
        self.last_rx_ms = None  # ticks_ms of the latest packet accepted from the peer

    @property
    def bound(self):
        return self.core.bound

    def stop(self):
        self._stopped.set()

    def silent_ms(self, now):
        """How long no audio has come from the peer (since the session started, if none yet)."""
        since = self.last_rx_ms if self.last_rx_ms is not None else self.started_ms
        return 0 if since is None else time.ticks_diff(now, since)

    async def run(self):
        self._udp = _Udp(*self._relay)
        self.started_ms = self._now()
        self._tasks = [asyncio.create_task(self._guard(self._send_loop())),
                       asyncio.create_task(self._guard(self._recv_loop())),
                       asyncio.create_task(self._guard(self._play_loop()))]
        try:
            await self._stopped.wait()
        finally:
            for t in self._tasks:
                t.cancel()
            for t in self._tasks:
                try:
                    await t
                except BaseException:  # CancelledError (a BaseException on CPython)
                    pass
            self._tasks = []
            self._udp.close()
        if self.error is not None:
            raise self.error
        return self.stats

    async def _guard(self, loop):
        try:
            await loop
        except asyncio.CancelledError:
            raise
        except Exception as e:  # an audio device failing, a socket error: end the session
            self.error = e
            self._stopped.set()

    async def _send_loop(self):
        core, udp, now = self.core, self._udp, self._now
        due = None
        while True:
            t = now()
            if core.bind_due(t):
                udp.send(self._bind, core.bind_into(self._bind, t))
            if not core.bound:
                await _sleep_ms(_BIND_POLL_MS)
                continue
            await self.audio.read_frame(self._mic)
            udp.send(self._pkt, core.send_frame_into(self._mic, self._pkt))
            if self.first_tx_ms is None:
                self.first_tx_ms = now()
            if not self._realtime:
                due = await self._pace(due)

    async def _recv_loop(self):
        core, udp, buf, now = self.core, self._udp, self._rx, self._now
        while True:
            try:
                n = await udp.receive_into(buf)
            except OSError:
                # ICMP port unreachable (the relay is not there yet, or restarting) surfaces
                # as ECONNREFUSED on a connected UDP socket: keep binding, never die of it.
                self.recv_errors += 1
                await _sleep_ms(_BIND_POLL_MS)
                continue
            was_bound = core.bound
            if core.datagram(buf, n, now()):
                self.last_rx_ms = now()
                if self.first_rx_ms is None:
                    self.first_rx_ms = self.last_rx_ms
                    if self.on_first_audio is not None:
                        self.on_first_audio()
            if core.bound and not was_bound:
                self.bound_ms = now()

    async def _play_loop(self):
        core, now = self.core, self._now
        due = None
        while True:
            core.play_into(self._spk, now())
            if self._shared_bus:
                self._floor()
            await self.audio.write_frame(self._spk)
            if not self._realtime:
                due = await self._pace(due)

    def _floor(self):
        # After far_end() has seen the frame about to play: a far end that starts talking
        # gets the bus before its first loud frame is written, and keeps it for the hold time.
        speaking = self.core.echo.speaking()
        if speaking != self._speaking:
            self._speaking = speaking
            self.bus_switches += 1
            self.audio.set_direction(speaking)

    async def _pace(self, due):
        t = self._now()
        if due is None:
            due = t
        due = time.ticks_add(due, FRAME_MS)
        wait = time.ticks_diff(due, t)
        if wait > 0:
            await _sleep_ms(wait)
            return due
        if wait < -_RESYNC_MS:
            due = t  # far behind (a GC pause, a slow host): restart the schedule, no burst
        await _sleep_ms(0)  # behind: still let the other loops run
        return due
