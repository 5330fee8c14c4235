# The switchboard link: a write that never drains breaks the link (send returns False and the
# session ends) instead of hanging the caller, which on a board is the app's timer loop that
# feeds the watchdog.
import asyncio

from portier.net.link import Link
from portier.wire.stanza import Node


class StuckStream:
    def __init__(self):
        self.writes = 0

    async def write(self, data):
        self.writes += 1
        await asyncio.sleep(3600)  # the peer stopped reading: the drain never ends

    def close(self):
        pass


def test_a_write_that_never_drains_breaks_the_link():
    async def main():
        link = Link("door:1@home", "127.0.0.1", 1)
        link.write_timeout_ms = 50
        link.ready = True
        link._stream = stream = StuckStream()
        ok = await asyncio.wait_for(link.send(Node("ack", {"id": "1"})), 2)
        return ok, stream.writes, link._closed.is_set()

    ok, writes, closed = asyncio.run(main())
    assert ok is False and writes == 1 and closed


class RecordingStream:
    def __init__(self):
        self.frames = []

    async def write(self, data):
        self.frames.append(bytes(data))

    def close(self):
        pass


def test_stanzas_held_while_down_go_out_at_ready_unless_held_past_the_grace():
    # docs/protocol.md 8.3: a stanza held longer than the grace is dropped, not sent late.
    import time

    from portier.signaling import linkstanzas as ls
    from portier.wire import stanza as wire
    from portier.wire.framing import FrameDecoder

    async def main():
        link = Link("door:1@home", "127.0.0.1", 1)
        assert link.hold_ms == 20000  # the link's grace (keepalive.GRACE_MS)
        link.hold_ms = 300
        for i in range(3):  # stale: held, then the outage went on past hold_ms
            assert await link.send(Node("old", {"id": str(i)})) is False
        await asyncio.sleep(0.6)
        for i in range(13):  # with the 3 old ones, 16: the bound drops none
            await link.send(Node("new", {"id": str(i)}))
        link._stream = stream = RecordingStream()
        link._t0 = time.ticks_ms()
        await link._on_link(ls.parse(ls.ready("door:1@home", 1800000000)))
        sent_first = list(stream.frames)
        link.ready = False  # down again: 18 held, the bound keeps the newest 16
        for i in range(18):
            await link.send(Node("more", {"id": str(i)}))
        stream.frames = []
        await link._on_link(ls.parse(ls.ready("door:1@home", 1800000000)))
        return link, sent_first, stream.frames

    def tags(frames):
        dec = FrameDecoder()
        for f in frames:
            dec.feed(f, len(f))
        return [(n.tag, n.attrs["id"]) for n in (wire.decode(f) for f in dec.frames())]

    link, first, second = asyncio.run(main())
    assert tags(first) == [("new", str(i)) for i in range(13)]
    assert tags(second) == [("more", str(i)) for i in range(2, 18)]
    assert link.ready and link._outbox == []
