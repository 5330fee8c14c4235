"""A device's end of the switchboard link for host tests: frames over asyncio streams."""

import asyncio
import ssl

from portier_host import paths

paths.use_firmware()
from portier.signaling import linkstanzas as ls  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.wire import stanza as wire  # noqa: E402
from portier.wire.framing import FrameDecoder, encode_frame  # noqa: E402

TIMEOUT_S = 5


class Closed(Exception):
    pass


class Client:
    def __init__(self, address, ssl_context=None):
        self.address = address
        self.ssl_context = ssl_context
        self.decoder = FrameDecoder()
        self.reader = self.writer = None
        self.n = 0

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(
            self.address[0], self.address[1], ssl=self.ssl_context,
            server_hostname="localhost" if self.ssl_context else None)
        return self

    def send(self, node):
        self.writer.write(encode_frame(wire.encode(node)))

    def send_raw(self, data):
        self.writer.write(data)

    async def recv(self, timeout=TIMEOUT_S):
        """The next stanza as a Node; Closed when the switchboard closed the link."""
        while True:
            frame = self.decoder.next_frame()
            if frame is not None:
                return wire.decode(frame)
            try:
                data = await asyncio.wait_for(self.reader.read(4096), timeout)
            except (ConnectionError, ssl.SSLError) as e:
                raise Closed(repr(e)) from None
            if not data:
                raise Closed("eof")
            self.decoder.feed(data)

    async def login(self, jid):
        await self.connect()
        self.send(ls.hello(jid))
        got = ls.parse(await self.recv())
        assert got.kind == "ready" and got.jid == jid, got
        return got

    async def barrier(self):
        """Ping and return every stanza that arrived before the pong (nothing else is pending
        on the switchboard's side for this link once the pong is back)."""
        self.n += 1
        sid = "B%d" % self.n
        self.send(ls.ping(sid))
        before = []
        while True:
            node = await self.recv()
            if node.tag == "pong" and node.get("id") == sid:
                return before
            before.append(node)

    async def recv_call(self):
        return st.parse(await self.recv())

    def close(self):
        if self.writer is not None:
            self.writer.close()
