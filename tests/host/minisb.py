"""A switchboard in miniature for the app's host tests (docs/protocol.md section 8), written
against the spec independently of the device code: asyncio TCP (+ mutual TLS), hello/ready
with the certificate's JID checked, pong, routing by `to` with `from` stamped, household offers
fanned out with one enc per device and acked with a relay block, bundles from a dict, and
hooks for the tests (send a stanza to a device, drop a device's link, see what arrived)."""

import asyncio
import ssl
import time

from portier_host import pki
from portier.signaling import linkstanzas as ls
from portier.signaling import linkpair as lp
from portier.signaling import stanzas as st
from portier.wire import stanza as wire
from portier.wire.framing import FrameDecoder, encode_frame


def relay_block(call_id, self_pid):
    return st.Stanza("relay", uuid=call_id, self_pid=self_pid, peer_pid=3 - self_pid,
                     key=b"k" * 16, hbh_key=b"h" * 30, tokens=[(0, b"t" * 33)],
                     endpoints=[st.Stanza("te2", address=b"\x7f\x00\x00\x01\x0d\x96")])


def server_tls(ca, server_identity, tmp_path):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert = tmp_path / "sb-cert.pem"
    key = tmp_path / "sb-key.pem"
    cert.write_bytes(server_identity.cert_pem())
    key.write_bytes(server_identity.key_pem())
    ctx.load_cert_chain(str(cert), str(key))
    ctx.load_verify_locations(cadata=ca.cert_der())
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class MiniSwitchboard:
    def __init__(self, ssl_ctx=None, bundles=None, answer_pings=True):
        self.ssl_ctx = ssl_ctx
        self.bundles = bundles or {}  # jid -> [encoded Bundle], one handed out per request
        self.answer_pings = answer_pings
        self.links = {}  # jid -> writer
        self.received = []  # (jid, Node) in arrival order
        self.hellos = []  # (jid, ticks of ready)
        self.arrived = asyncio.Event()
        self._seen_offers = set()
        self.server = None
        self.port = None

    async def start(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0, ssl=self.ssl_ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self):
        for w in list(self.links.values()):
            w.close()
        self.server.close()
        await self.server.wait_closed()

    # ---- test hooks ----

    async def send(self, jid, node):
        w = self.links[jid]
        w.write(encode_frame(wire.encode(node)))
        await w.drain()

    def drop(self, jid):
        self.links.pop(jid).close()

    async def wait_for(self, pred, timeout=20.0):
        """The first received (jid, node) matching pred, waiting for it."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for item in self.received[seen:]:
                if pred(*item):
                    return item
            seen = len(self.received)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("nothing matching arrived; got %r" % [
                    (j, n.tag, n.attrs) for j, n in self.received])
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                pass

    # ---- the server ----

    async def _client(self, reader, writer):
        dec = FrameDecoder(4096)
        jid = None
        try:
            while True:
                data = await reader.read(2048)
                if not data:
                    return
                dec.feed(data)
                for frame in dec.frames():
                    node = wire.decode(frame)
                    if jid is None:
                        jid = await self._hello(node, writer)
                        if jid is None:
                            return
                        continue
                    self.received.append((jid, node))
                    self.arrived.set()
                    await self._route(jid, node, writer)
        except (ConnectionError, ssl.SSLError):
            return
        finally:
            if jid is not None and self.links.get(jid) is writer:
                del self.links[jid]
            writer.close()

    async def _hello(self, node, writer):
        msg = ls.parse(node)
        if msg.kind != "hello":
            return None
        if self.ssl_ctx is not None:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            from cryptography import x509

            if pki.device_jid(x509.load_der_x509_certificate(der)) != msg.jid:
                writer.write(encode_frame(wire.encode(ls.failure("auth"))))
                await writer.drain()
                return None
        old = self.links.get(msg.jid)
        if old is not None:
            old.close()
        self.links[msg.jid] = writer
        writer.write(encode_frame(wire.encode(ls.ready(msg.jid, int(time.time())))))
        await writer.drain()
        self.hellos.append((msg.jid, time.monotonic()))
        self.arrived.set()
        return msg.jid

    async def _route(self, jid, node, writer):
        tag = node.tag
        if tag == "ping":
            if self.answer_pings:
                writer.write(encode_frame(wire.encode(ls.pong(ls.parse(node).id))))
                await writer.drain()
            return
        if tag == "iq":
            msg = ls.parse(node)
            if msg.kind == "bundle_get":
                left = self.bundles.get(msg.jid)
                b = left.pop(0) if left else None
                reply = lp.iq_error(msg.id, 404) if b is None else lp.bundle_result(msg.id, msg.jid, b)
                writer.write(encode_frame(wire.encode(reply)))
                await writer.drain()
            return
        if tag not in ("call", "ack", "receipt", "pair"):
            return  # pong and the like end here
        if tag == "call":
            msg = st.parse(node)
            if msg.action == "offer":
                return await self._offer(jid, msg, writer)
        node = wire.decode(wire.encode(node))  # a copy: the recorded one stays as sent
        node.attrs["from"] = jid
        to = node.attrs.get("to")
        if to in self.links:
            await self.send(to, node)

    async def _offer(self, jid, msg, writer):
        ack = st.Stanza("ack", stanza_id=msg.stanza_id, to=jid, relay=relay_block(msg.call_id, 1))
        writer.write(encode_frame(wire.encode(ack.to_node())))
        await writer.drain()
        if msg.stanza_id in self._seen_offers:
            return
        self._seen_offers.add(msg.stanza_id)
        targets = [(msg.to, msg.enc)] if msg.enc is not None else msg.destination
        for device, enc in targets:
            copy = st.Stanza("offer", call_id=msg.call_id, call_creator=msg.call_creator,
                             audio=msg.audio, enc=enc, to=device, stanza_id=msg.stanza_id,
                             relay=relay_block(msg.call_id, 2)).to_node()
            copy.attrs["from"] = jid
            if device in self.links:
                await self.send(device, copy)
