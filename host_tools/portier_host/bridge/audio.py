"""The bridge's audio device for portier.app: the door call's media session reads its
"microphone" from the SIP leg and writes its "speaker" to it.

The SIP side is a media port of PJSIP's conference bridge (sipua.FramePort), clocked by
PJSIP's media clock on its own thread: each 20 ms it hands over one frame heard from the SIP
phone (rx) and takes one frame to send there (tx). Both calls here block on that clock, as a
board's I2S does (portier.net.media: a realtime device sets the pace), so the two sides never
drift apart and no frame is dropped or doubled for want of a common clock. The SIP side's
jitter buffer and loss concealment are PJSIP's (its adaptive jitter buffer and PLC); the
door side's are Portier's own (portier.media.jitter).

Threads: the deques are the only thing the media clock thread and the event loop share
(append/popleft are atomic); the clock thread wakes the loop with call_soon_threadsafe.
"""

import asyncio
import collections

from .. import paths

paths.use_firmware()
from portier.hal.audio import AudioDevice  # noqa: E402

_STALL_S = 0.1  # no media clock this long (the SIP leg is on hold or gone): play on in silence
TX_FRAMES = 3  # frames queued towards SIP at most: 60 ms
# Frames heard from SIP that may wait for the door call's media session. More pile up only
# while it is not reading (the relay binding at the start, a loaded host): handed over at
# once they reach the door as a burst its jitter buffer drops from (measured under load: 5-7
# frames dropped at the door, PESQ phone -> door 3.38 against 4.28), so the oldest go here.
RX_BACKLOG = 2


class PortQueues:
    """What the media clock thread and the loop exchange for one conference port."""

    def __init__(self):
        self.rx = collections.deque(maxlen=8)  # heard from SIP, oldest first
        self.tx = collections.deque(maxlen=TX_FRAMES + 2)  # to play to SIP
        self.tone = collections.deque()  # result tones: played instead of tx while they last
        self.wake_rx = None  # called on the clock thread when a frame from SIP is in rx
        self.wake_tx = None  # called on the clock thread when a frame left tx (a free slot)
        self.frames_in = 0  # frames heard from SIP (clock thread)
        self.frames_out = 0  # ticks that asked for a frame to send to SIP (clock thread)

    def play_tone(self, pcm, frame_bytes):
        self.tone.clear()
        for i in range(0, len(pcm), frame_bytes):
            self.tone.append(pcm[i:i + frame_bytes].ljust(frame_bytes, b"\0"))

    def take_tx(self):
        """Clock thread: the next frame for the SIP side, or None (silence)."""
        self.frames_out += 1
        if self.tone:
            if self.tx:
                self.tx.popleft()  # the door's frame of this tick is skipped, keeping time
            frame = self.tone.popleft()
        else:
            frame = self.tx.popleft() if self.tx else None
        wake = self.wake_tx
        if wake is not None:
            wake()
        return frame

    def put_rx(self, data):
        """Clock thread: the frame heard from SIP this tick (None: the leg sent no audio)."""
        self.frames_in += 1
        self.rx.append(data)
        wake = self.wake_rx
        if wake is not None:
            wake()


def _stall(tick, stalled):
    stalled.append(True)
    tick.set()


class BridgeAudio(AudioDevice):
    realtime = True  # blocks on the SIP media clock (see above)

    def __init__(self, queues, rate):
        AudioDevice.__init__(self, rate)
        self._q = queues
        queues.rx.clear()
        queues.tx.clear()
        queues.frames_in = queues.frames_out = 0
        self._loop = asyncio.get_event_loop()
        self._rx_tick = asyncio.Event()  # a frame from SIP arrived
        self._tx_tick = asyncio.Event()  # a frame for SIP left
        queues.wake_rx = self._waker(self._rx_tick)
        queues.wake_tx = self._waker(self._tx_tick)
        self._silence = bytes(self.frame_bytes)
        self.silent_reads = 0  # read_frame found nothing from SIP: silence went to the door
        self.dropped_tx = 0  # frames for SIP dropped because the clock stalled
        self.stale_rx = 0  # frames from SIP dropped as a backlog (RX_BACKLOG)
        self.started = self._loop.time()

    def _waker(self, event):
        loop = self._loop

        def wake():  # media clock thread
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop is closed: the bridge is stopping
                pass
        return wake

    async def _next_tick(self, tick):
        """True after the next media clock tick, False after a stall.

        Not asyncio.wait_for: on Python 3.11 a cancel that lands in the same loop turn as a
        tick is swallowed by it (the tick wins), so a media session being stopped went on
        reading and writing for ever, and the bridge never hung up the SIP leg of a call the
        door had ended (seen in CI). A timer that sets the same event cannot eat a cancel."""
        tick.clear()
        stalled = []
        timer = self._loop.call_later(_STALL_S, _stall, tick, stalled)
        try:
            await tick.wait()
        finally:
            timer.cancel()
        return not stalled

    async def read_frame(self, buf):
        """One frame the SIP phone sent, waiting for the media clock to deliver it; silence
        when the clock stalls (a leg on hold or gone)."""
        fb = self.frame_bytes
        q = self._q
        while not q.rx:
            if not await self._next_tick(self._rx_tick):
                break
        while len(q.rx) > RX_BACKLOG:
            q.rx.popleft()
            self.stale_rx += 1
        data = q.rx.popleft() if q.rx else None
        if data is None:  # a stall, or a tick that carried no audio from SIP
            data = self._silence
            self.silent_reads += 1
        elif len(data) != fb:
            data = data[:fb].ljust(fb, b"\0")
        buf[:fb] = data
        return fb

    async def write_frame(self, buf):
        """Queue one frame for the SIP phone; wait while the queue is full."""
        q = self._q
        while len(q.tx) >= TX_FRAMES:
            if not await self._next_tick(self._tx_tick):  # a stall: drop the oldest instead
                q.tx.popleft()
                self.dropped_tx += 1
        self._q.tx.append(bytes(buf[:self.frame_bytes]))
        return self.frame_bytes

    def play_tone(self, pcm):
        self._q.play_tone(pcm, self.frame_bytes)

    def stats(self):
        q = self._q
        return {"ms": int((self._loop.time() - self.started) * 1000), "from_sip": q.frames_in,
                "to_sip": q.frames_out, "silent_reads": self.silent_reads, "dropped_tx": self.dropped_tx,
                "stale_rx": self.stale_rx}

    def close(self):
        self._q.wake_rx = self._q.wake_tx = None
        self._q.tx.clear()
