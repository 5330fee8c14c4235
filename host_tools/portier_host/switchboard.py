"""`portier switchboard`: the household's signalling server (docs/protocol.md section 8).

One asyncio TCP server, TLS with mutual authentication (a device's JID is its client
certificate's common name; plain TCP only with insecure=True, for loopback tests). Each link
speaks first with <hello>; after <ready> the switchboard routes <call>, <ack>, <receipt> and
<pair> by `to` within the sender's household, stamping `from` (and `t` on <call>), fans an offer
out to every addressed device with its own <enc> and a relay block, answers pings and the prekey
iqs, and queues stanzas for devices that are offline. Households, accounts, devices and prekeys
live in SQLite (switchboard_db). The media relay (portier_host.relay) runs in-process by default
and shares the token secret.

In-process use (the simulator, tests):

    sb = Switchboard(db_path, ssl_context=household.server_ssl_context())
    await sb.start("127.0.0.1", 0)      # sb.address, sb.relay.address
    ...
    await sb.close()
"""

import asyncio
import collections
import logging
import os
import socket
import ssl
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import paths, pki, relay, relaystore, sblimits
from .switchboard_db import Database

paths.use_firmware()
from portier.e2e.keys import Bundle  # noqa: E402
from portier.signaling import linkstanzas as ls  # noqa: E402
from portier.signaling import linkpair as lp  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.wire import stanza as wire  # noqa: E402
from portier.wire.framing import FrameDecoder, FrameError, encode_frame  # noqa: E402

log = logging.getLogger("portier.switchboard")

MAX_FRAME = 16384  # a stanza above this is no Portier stanza (an offer to 3 devices is ~560 B)
IDLE_TIMEOUT_S = 45  # section 8.3: a link silent this long is closed
HELLO_TIMEOUT_S = 10  # from accept, TLS handshake included: no <hello> by then, closed (Portier's choice)
QUEUE_MAX = 64  # section 8.4: per offline device, oldest dropped first
QUEUE_TTL_S = 60
RING_TIMEOUT_S = 30
MAX_CALL_S = 600
OFFER_MEMORY_S = 120  # how long an offer's stanza id is remembered for retransmissions
# (and at most Limits.offers_kept of them: the oldest go first)
WATCH_S = 2  # how often removed devices and pending revocations are looked for
REVOKE_RETRY_S = 30  # a revocation its connected door has not confirmed goes out again
WRITE_BUFFER_LIMIT = 1 << 20  # a link that does not read this much is closed
_READ_SIZE = 4096
# asyncio gives every TLS connection a 256 KiB read buffer (sslproto.SSLProtocol.max_size): about
# 300 KiB of RSS per logged-in link (bench_capacity). A TLS record carries at most 16 KiB, so a
# 32 KiB buffer loses nothing. The attribute is CPython's own; where it is absent, nothing changes.
_TLS_READ_BUFFER = 32 * 1024
_BACKLOG = 1024  # a burst of connects waits in the kernel, not refused there
_ACCEPT_BATCH = 64  # connections taken per wake-up of the listener
_STAT_NAMES = ("links", "frames_in", "routed", "queued", "queue_dropped", "queue_expired",
               "queue_flushed", "malformed", "framing_errors", "refused", "dropped", "offers",
               "offer_retransmits", "offers_refused", "idle_closed", "replaced", "errors",
               "over_limit", "hello_timeouts", "offers_forgotten")


class _Link:
    def __init__(self, reader, writer, cert, hello_deadline):
        self.reader = reader
        self.writer = writer
        self.cert = cert  # the verified TLS client certificate, None on plain TCP
        self.cert_jid = None if cert is None else pki.device_jid(cert)
        self.jid = None  # set once ready
        self.household = None
        self.decoder = FrameDecoder(MAX_FRAME)
        self.closed = False
        self.peer = writer.get_extra_info("peername")
        self.hello_deadline = hello_deadline  # loop time: <hello> by then, or closed

    def send_frame(self, frame):
        if self.closed or self.writer.transport.is_closing():
            return False
        self.writer.write(frame)
        if self.writer.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            log.warning("%s: not reading, closed", self.jid)
            self.close()
            return False
        return True

    def send(self, node):
        return self.send_frame(encode_frame(wire.encode(node)))

    def close(self):
        if not self.closed:
            self.closed = True
            self.writer.close()


class _Queued:
    __slots__ = ("expiry", "call_id", "action", "frame")

    def __init__(self, expiry, call_id, action, frame):
        self.expiry = expiry
        self.call_id = call_id
        self.action = action
        self.frame = frame


class _Offer:
    __slots__ = ("when", "relay")

    def __init__(self, when, relay_block):
        self.when = when
        self.relay = relay_block  # the caller's relay block, None when the offer was refused


def _client_cert(writer):
    """The verified client certificate (x509), or None without one."""
    obj = writer.get_extra_info("ssl_object")
    if obj is None:
        return None
    der = obj.getpeercert(binary_form=True)
    if der is None:
        return None
    return x509.load_der_x509_certificate(der)


def _issued_by(cert, ca):
    try:
        cert.verify_directly_issued_by(ca)
        return True
    except Exception:  # InvalidSignature, ValueError, TypeError: not this CA
        return False


async def _readable(loop, sock):
    """Until sock has something to read (left in the socket for whoever reads it next)."""
    fd = sock.fileno()
    ready = loop.create_future()
    loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _ipv4_address(host, port):
    return socket.inet_aton(host) + port.to_bytes(2, "big")


class Switchboard:
    """The switchboard server. ssl_context: a TLS server context that requires client
    certificates (provisioning.Household.server_ssl_context()); None only with insecure=True.
    relay_secret: the relay token secret (default: the database's, else a new one stored there).
    run_relay: start portier_host.relay in-process; else give relay_address=(ipv4, port) of a
    relay started separately with the same secret. relay_public_host: the IPv4 address devices
    reach the relay at, for the relay block's te2 (default: the relay's own address; a wildcard
    bind is advertised as 127.0.0.1)."""

    def __init__(self, db_path, ssl_context=None, insecure=False, relay_secret=None, run_relay=True,
                 relay_address=None, relay_public_host=None, ring_timeout_s=RING_TIMEOUT_S, max_call_s=MAX_CALL_S,
                 idle_timeout_s=IDLE_TIMEOUT_S, hello_timeout_s=HELLO_TIMEOUT_S, clock=time.time,
                 trace=None, limits=sblimits.BUILDING):
        if ssl_context is None and not insecure:
            raise ValueError("a TLS context is required unless insecure=True")
        if ssl_context is not None and ssl_context.verify_mode != ssl.CERT_REQUIRED:
            raise ValueError("the TLS context must require client certificates")
        self.db = Database(db_path)
        if relay_secret is None:
            relay_secret = self.db.setting("relay_secret")
        if relay_secret is None:
            relay_secret = os.urandom(32)
            self.db.set_setting("relay_secret", relay_secret)
        self.relay_secret = relay_secret
        self.ssl_context = ssl_context
        self.insecure = insecure
        self.run_relay = run_relay
        self.relay = None
        self._relay_store = None
        self.relay_address = relay_address
        self.relay_public_host = relay_public_host
        self.token_lifetime_s = ring_timeout_s + max_call_s
        self.idle_timeout_s = idle_timeout_s
        self.hello_timeout_s = hello_timeout_s
        self.limits = limits
        self._admission = sblimits.Admission(limits)
        self.clock = clock  # unix seconds; tests may replace it
        self.trace = trace  # trace(sender, receiver, node) for every stanza routed or acked
        self.address = None
        self.stats = dict((name, 0) for name in _STAT_NAMES)
        self._listener = None
        self._links = {}  # jid -> _Link (ready ones)
        self._tasks = set()
        self._queues = {}  # jid -> deque of _Queued
        self._offers = collections.OrderedDict()  # (caller jid, stanza id) -> _Offer
        self._te2 = None
        # The CAs the TLS context trusts: a certificate's issuer must be the one its household
        # is bound to (switchboard_db households.ca), or one CA could speak for another's devices.
        self._cas = []
        if ssl_context is not None:
            self._cas = [x509.load_der_x509_certificate(der)
                         for der in ssl_context.get_ca_certs(binary_form=True)]
        self._revoke_sent = {}  # (door, device) -> when the revocation went out last
        self._watch = None

    # -- life cycle --

    async def start(self, host="127.0.0.1", port=0, relay_host="127.0.0.1", relay_port=0):
        if self.run_relay:
            # Its bindings live in the database: a restarted switchboard keeps calls' media.
            # written from a thread of its own: no commit in the loop for a bind (relaystore)
            self._relay_store = self.db
            if self.db.path != ":memory:":
                self._relay_store = relaystore.WriteBehind(self.db)
            self.relay = await relay.Relay.start(self.relay_secret, relay_host, relay_port,
                                                 store=self._relay_store)
            self.relay_address = self.relay.address
        if self.relay_address is None:
            raise ValueError("no relay: run_relay=False needs relay_address")
        rhost, rport = self.relay_address
        if self.relay_public_host is not None:
            rhost = self.relay_public_host
        elif rhost == "0.0.0.0":  # noqa: S104 - a wildcard bind is reached on loopback here
            rhost = "127.0.0.1"
        self._te2 = _ipv4_address(rhost, rport)
        tls_protocol = getattr(getattr(asyncio, "sslproto", None), "SSLProtocol", None)
        if getattr(tls_protocol, "max_size", 0) > _TLS_READ_BUFFER:
            tls_protocol.max_size = _TLS_READ_BUFFER
        # Our own accept loop, not asyncio.start_server: each connection is checked against
        # the limits before any TLS state is made for it, and its hello deadline starts here.
        self._listener = socket.create_server((host, port), backlog=_BACKLOG)
        self._listener.setblocking(False)
        self.address = self._listener.getsockname()[:2]
        self._listen()
        self._watch = asyncio.ensure_future(self._watch_devices())
        log.info("switchboard on %s:%d (%s), relay on udp %s:%d", self.address[0], self.address[1],
                 "plain TCP, insecure" if self.insecure and self.ssl_context is None else "TLS",
                 rhost, rport)
        return self

    async def close(self):
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._listener is not None:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for link in list(self._links.values()):
            link.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        if self._relay_store is not None and self._relay_store is not self.db:
            self._relay_store.close()  # what is pending is written before the database closes
        self._relay_store = None
        self.db.close()

    def connected(self):
        """JIDs with a ready link."""
        return sorted(self._links)

    def queued(self, jid):
        """How many stanzas wait for jid (after dropping expired ones)."""
        return len(self._queue(jid, create=False) or ())

    # -- one link --

    def _on_acceptable(self):
        """The listener is readable: take every waiting connection (up to a batch), check it
        against the limits, close those over them at once and serve the rest. One wake-up per
        batch, not a future per connection: a connection flood costs little more than the
        kernel's own work."""
        loop = asyncio.get_running_loop()
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # out of file descriptors, say: pause rather than spin
                log.warning("accept: %s", e)
                loop.remove_reader(self._listener.fileno())
                loop.call_later(0.1, self._listen)
                return
            over = self._admission.admit(peer[0])
            if over is not None:
                self.stats["over_limit"] += 1
                conn.close()
                continue
            conn.setblocking(False)
            # The hello deadline runs from here, through the TLS handshake, to <hello>.
            deadline = loop.time() + self.hello_timeout_s
            task = asyncio.create_task(self._serve(conn, peer[0], deadline))
            self._tasks.add(task)

    def _listen(self):
        if self._listener is not None:
            asyncio.get_running_loop().add_reader(self._listener.fileno(), self._on_acceptable)

    async def _open(self, conn, address, deadline):
        """The accepted socket as a stream pair, TLS done within the hello deadline; None when
        the handshake fails or runs out of time."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_READ_SIZE * 4)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            # Nothing is made for TLS (~70 KiB a connection, with _TLS_READ_BUFFER) until the
            # client has sent something: a connection that stays silent costs a socket.
            await asyncio.wait_for(_readable(loop, conn), deadline - loop.time())
            kw = {}
            left = deadline - loop.time()
            if self.ssl_context is not None:
                kw = dict(ssl=self.ssl_context, ssl_handshake_timeout=max(left, 0.001))
            transport, _ = await asyncio.wait_for(
                loop.connect_accepted_socket(lambda: protocol, conn, **kw), left)
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError) as e:
            conn.close()
            if isinstance(e, asyncio.TimeoutError):
                self.stats["hello_timeouts"] += 1
            log.info("%s: closed before TLS was up: %r", address, e)
            return None
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    async def _serve(self, conn, address, deadline):
        task = asyncio.current_task()
        link = writer = None
        try:
            opened = await self._open(conn, address, deadline)
            if opened is None:
                return
            reader, writer = opened
            cert = _client_cert(writer)
            link = _Link(reader, writer, cert, deadline)
            if self.ssl_context is not None and cert is None:
                self.stats["refused"] += 1
                link.send(ls.failure("auth"))
                return
            await self._read_loop(link)
        except asyncio.CancelledError:
            pass
        except Exception:  # one link's trouble never takes the server down
            self.stats["errors"] += 1
            log.exception("link %s failed", link.jid if link else "?")
        finally:
            self._tasks.discard(task)
            self._admission.closed(address, link is None or link.jid is None)
            if link is not None:
                link.close()
                if link.jid is not None and self._links.get(link.jid) is link:
                    del self._links[link.jid]
                    log.info("%s disconnected", link.jid)
            elif writer is not None:
                writer.close()
            else:
                conn.close()

    async def _read_loop(self, link):
        loop = asyncio.get_running_loop()
        while not link.closed:
            if link.jid is None:  # absolute: a client trickling bytes never gets more time
                timeout = link.hello_deadline - loop.time()
            else:
                timeout = self.idle_timeout_s
            try:
                if timeout <= 0:
                    raise asyncio.TimeoutError
                data = await asyncio.wait_for(link.reader.read(_READ_SIZE), timeout)
            except asyncio.TimeoutError:
                if link.jid is None:
                    self.stats["hello_timeouts"] += 1
                    log.info("%s: no <hello> within %g s of accept, closed", link.peer,
                             self.hello_timeout_s)
                    return
                self.stats["idle_closed"] += 1
                log.info("%s silent for %g s, closed", link.jid, timeout)
                return
            except (OSError, ssl.SSLError) as e:
                log.info("%s: %s", link.jid or link.peer, e)
                return
            if not data:
                return
            framing_error = None
            try:
                link.decoder.feed(data)
            except FrameError as e:
                framing_error = e
            for frame in link.decoder.frames():
                if link.closed:
                    return
                self._on_frame(link, frame)
            if framing_error is not None:
                self.stats["framing_errors"] += 1
                log.warning("%s: %s; link closed", link.jid or link.peer, framing_error)
                return

    def _on_frame(self, link, frame):
        self.stats["frames_in"] += 1
        try:
            node = wire.decode(frame)
            if link.jid is None:
                self._on_hello(link, node)
            elif ls.is_call_stanza(node):
                self._on_call_stanza(link, node, st.parse(node))
            else:
                self._on_link_stanza(link, ls.parse(node))
        except wire.StanzaError as e:  # CallStanzaError and LinkError are StanzaErrors too
            self.stats["malformed"] += 1
            if link.jid is None:
                return self._refuse(link, "auth", "malformed stanza before ready: %s" % e)
            log.warning("%s: malformed stanza dropped: %s", link.jid, e)
        except Exception:
            self.stats["errors"] += 1
            log.exception("%s: stanza handling failed", link.jid or link.peer)

    def _wrong_ca(self, cert, household):
        """None when cert was issued by the CA household is bound to, else why not. A household
        not yet bound passes only where a single CA is trusted (nothing to confuse it with)."""
        issuer = [ca for ca in self._cas if _issued_by(cert, ca)]
        if not issuer:
            return "no trusted CA issued the certificate directly"
        bound = self.db.household_ca(household)
        if bound is None:
            if len(self._cas) == 1:
                return None
            return "household %s is bound to no CA (register it again)" % household
        if issuer[0].public_bytes(serialization.Encoding.DER) != bound:
            return "certificate for %s from another household's CA" % household
        return None

    def _refuse(self, link, reason, why):
        self.stats["refused"] += 1
        log.warning("%s: refused (%s): %s", link.cert_jid or link.peer, reason, why)
        link.send(ls.failure(reason))
        link.close()

    def _on_hello(self, link, node):
        try:
            hello = ls.parse(node)
        except ls.LinkError:
            hello = None
        if hello is None or hello.kind != "hello":
            return self._refuse(link, "auth", "<%s> before ready" % node.tag)
        if hello.v != ls.PROTOCOL_VERSION:
            return self._refuse(link, "version", "version %r" % hello.v)
        if link.cert_jid is not None and hello.jid != link.cert_jid:
            return self._refuse(link, "auth", "hello as %s with the certificate of %s"
                                % (hello.jid, link.cert_jid))
        if link.cert_jid is None and not self.insecure:
            return self._refuse(link, "auth", "no client certificate")
        device = self.db.device(hello.jid)
        if device is None:
            return self._refuse(link, "unknown", "no device %s" % hello.jid)
        if link.cert is not None:
            why = self._wrong_ca(link.cert, device.household)
            if why is not None:
                return self._refuse(link, "auth", why)
        link.jid = hello.jid
        link.household = device.household
        old = self._links.get(link.jid)
        if old is not None:
            self.stats["replaced"] += 1
            log.info("%s: a new link replaces the old one", link.jid)
            old.close()
        self._links[link.jid] = link
        self._admission.authenticated(link.peer[0] if link.peer else None)
        self.stats["links"] += 1
        link.send(ls.ready(link.jid, int(self.clock())))
        log.info("%s ready (%s)", link.jid, link.peer)
        self._flush(link)
        self._send_revocations(link, force=True)

    # -- link stanzas --

    def _on_link_stanza(self, link, msg):
        kind = msg.kind
        if kind == "ping":
            link.send(ls.pong(msg.id))
        elif kind == "bundle_get":
            link.send(self._bundle(link, msg))
        elif kind == "prekeys_set":
            self.db.add_prekeys(link.jid, msg.keys)
            link.send(lp.iq_result(msg.id))
        elif kind == "pair" or kind == "pair_result":
            if kind == "pair":  # its <auth> goes along: only the door can check it
                node = lp.pair(msg.id, msg.to, msg.enc_type, msg.ciphertext, msg.auth)
            else:
                node = lp.pair_result(msg.id, msg.to, msg.ok)
            node.attrs["from"] = link.jid
            self._route(link, msg.to, node, None, kind)
        elif kind == "revoke_result":
            if msg.ok:  # the door has forgotten the device: nothing more to deliver
                self.db.drop_revocation(link.jid, msg.jid)
                self._revoke_sent.pop((link.jid, msg.jid), None)
            log.info("%s: revocation of %s %s", link.jid, msg.jid, "done" if msg.ok else "refused")
        elif kind == "pong":
            pass
        else:  # hello again, ready, failure, iq results: nothing a device sends here
            self.stats["dropped"] += 1
            log.info("%s: unexpected <%s> ignored", link.jid, kind)

    # -- removed devices and revocations (portier devices remove; protocol 8.5) --

    def _send_revocations(self, link, force=False):
        now = self.clock()
        for door, device, blob in self.db.revocations(link.jid):
            last = self._revoke_sent.get((door, device))
            if force or last is None or now - last >= REVOKE_RETRY_S:
                self._revoke_sent[(door, device)] = now
                link.send(lp.revoke("R%d" % (int(now * 1000) % 10**9), device, blob))

    async def _watch_devices(self):
        # `portier devices remove` writes the database from another process: every few seconds
        # a removed device's link is closed and pending revocations go to their doors.
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                for jid, link in list(self._links.items()):
                    if self.db.device(jid) is None:
                        log.info("%s was removed: link closed", jid)
                        link.close()
                        self._links.pop(jid, None)
                    else:
                        self._send_revocations(link)
            except Exception:  # the database busy or gone for a moment: next round
                log.exception("device watch")

    def _bundle(self, link, msg):
        device = self.db.device(msg.jid)
        if device is None or device.household != link.household:
            return lp.iq_error(msg.id, 404)
        prekey = self.db.take_prekey(msg.jid)
        key_id, public = prekey if prekey is not None else (None, None)
        bundle = Bundle(device.registration_id, device.identity_key, device.signed_prekey_id,
                        device.signed_prekey, device.signature, key_id, public)
        return lp.bundle_result(msg.id, msg.jid, bundle.encode())

    # -- call stanzas --

    def _on_call_stanza(self, link, node, msg):
        if node.tag == "call" and msg.action == "offer":
            return self._offer(link, msg)
        node.attrs["from"] = link.jid
        if node.tag == "call":
            node.attrs["t"] = str(int(self.clock()))
        self._route(link, msg.to, node, getattr(msg, "call_id", None), msg.action)

    def _offer(self, link, msg):
        caller = link.jid
        if msg.stanza_id is None:
            self.stats["malformed"] += 1
            log.warning("%s: offer without an id dropped", caller)
            return
        key = (caller, msg.stanza_id)
        known = self._offers.get(key)
        if known is not None:
            self.stats["offer_retransmits"] += 1
            return self._ack_offer(link, msg.stanza_id, known.relay)
        targets = [(msg.to, msg.enc)] if msg.enc is not None else msg.destination
        valid = [(jid, enc) for jid, enc in targets
                 if jid != caller and self._device_in(jid, link.household)]
        now = self.clock()
        self._remember_offer(key, now, None)
        if not valid:
            self.stats["offers_refused"] += 1
            log.info("%s: offer %s to no device of %s", caller, msg.call_id, link.household)
            return self._ack_offer(link, msg.stanza_id, None)
        self.stats["offers"] += 1
        # One token per leg (docs/protocol.md 7): the caller's leg 1, each callee its own, all
        # under one handle; a callee's token binds only its own leg, and only the leg of the
        # device the caller names as answerer is joined to the caller's.
        tokens = relay.call_tokens(self.relay_secret, self.token_lifetime_s, caller,
                                   [jid for jid, _ in valid], now)
        caller_block = self._relay_block(msg.call_id, tokens[0], 1, 2)
        self._offers[key].relay = caller_block
        fields = dict(msg.__dict__)
        del fields["action"]
        fields.update(to=None, frm=caller, t=int(now), destination=None)
        for (jid, enc), token in zip(valid, tokens[1:]):
            fields["enc"] = enc
            fields["relay"] = self._relay_block(msg.call_id, token, 2, 1)
            self._route(link, jid, st.Stanza("offer", **fields).to_node(), msg.call_id, "offer")
        self._ack_offer(link, msg.stanza_id, caller_block)

    def _relay_block(self, call_id, token, self_pid, peer_pid):
        return st.Stanza("relay", uuid=call_id, self_pid=self_pid, peer_pid=peer_pid,
                         key=os.urandom(16), hbh_key=os.urandom(30), tokens=[(0, token)],
                         endpoints=[st.Stanza("te2", address=self._te2)])

    def _ack_offer(self, link, stanza_id, relay_block):
        if relay_block is None:
            ack = st.Stanza("ack", stanza_id=stanza_id, ack_type="offer", error_code=404)
        else:
            ack = st.Stanza("ack", stanza_id=stanza_id, ack_type="offer", relay=relay_block)
        node = ack.to_node()
        if self.trace is not None:
            self.trace("switchboard", link.jid, node)
        link.send(node)

    def _remember_offer(self, key, now, relay_block):
        offers = self._offers
        while offers:
            oldest = next(iter(offers))
            if now - offers[oldest].when < OFFER_MEMORY_S:
                if len(offers) < self.limits.offers_kept:
                    break
                self.stats["offers_forgotten"] += 1  # a flood: its retransmits would ring again
            del offers[oldest]
        offers[key] = _Offer(now, relay_block)

    def _device_in(self, jid, household):
        if jid is None:
            return False
        device = self.db.device(jid)
        return device is not None and device.household == household

    # -- routing and the offline queue --

    def _route(self, link, to, node, call_id, action):
        if not self._device_in(to, link.household):
            self.stats["dropped"] += 1
            log.info("%s: %s to %s dropped (not in %s)", link.jid, action, to, link.household)
            return
        if self.trace is not None:
            self.trace(link.jid, to, node)
        frame = encode_frame(wire.encode(node))
        target = self._links.get(to)
        if target is not None and target.send_frame(frame):
            self.stats["routed"] += 1
            return
        self._enqueue(to, frame, call_id, action)

    def _queue(self, jid, create):
        q = self._queues.get(jid)
        if q is None:
            if not create:
                return None
            q = self._queues[jid] = collections.deque()
        now = self.clock()
        while q and q[0].expiry <= now:
            q.popleft()
            self.stats["queue_expired"] += 1
        return q

    def _enqueue(self, jid, frame, call_id, action):
        q = self._queue(jid, create=True)
        if call_id is not None and (action == "terminate" or action == "reject"):
            kept = [e for e in q if e.call_id != call_id]
            if any(e.call_id == call_id and e.action == "offer" for e in q):
                # the device never saw this call: it must not ring for it when it comes back
                self.stats["queue_dropped"] += len(q) - len(kept)
                q.clear()
                q.extend(kept)
                log.info("%s offline: call %s ended before it was delivered", jid, call_id)
                return
        q.append(_Queued(self.clock() + QUEUE_TTL_S, call_id, action, frame))
        self.stats["queued"] += 1
        if len(q) > QUEUE_MAX:
            q.popleft()
            self.stats["queue_dropped"] += 1

    def _flush(self, link):
        q = self._queue(link.jid, create=False)
        if not q:
            return
        while q:
            entry = q.popleft()
            if not link.send_frame(entry.frame):
                q.appendleft(entry)
                return
            self.stats["queue_flushed"] += 1
        del self._queues[link.jid]


async def serve_forever(switchboard, host, port, relay_host, relay_port):
    await switchboard.start(host, port, relay_host, relay_port)
    print("switchboard: listening on %s:%d, relay udp %s:%d"
          % (switchboard.address + tuple(switchboard.relay_address)), flush=True)
    try:
        while True:
            await asyncio.sleep(60)
            print("switchboard: %d links, %r" % (len(switchboard.connected()), switchboard.stats),
                  flush=True)
    finally:
        await switchboard.close()
