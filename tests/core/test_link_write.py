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
