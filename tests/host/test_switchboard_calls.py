"""Whole calls through the switchboard: real CallEngines over mutual-TLS links, real Signal
sessions (phones fetch the door's bundle, pair with a pkmsg, the door wraps the call key in the
answered session), the relay block from the switchboard's ack and fan-out."""

import asyncio
import shutil
import tempfile
import time

from sbclient import Client, Closed

from portier_host import paths, provisioning, relay
from portier_host.switchboard import Switchboard

paths.use_firmware()
from portier.e2e import callkey, session, x3dh  # noqa: E402
from portier.e2e.keys import Bundle  # noqa: E402
from portier.signaling import linkstanzas as ls  # noqa: E402
from portier.signaling import linkpair as lp  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.signaling.engine import CallEngine  # noqa: E402

DOOR = "door:1@home"
PHONES = ["anna:1@home", "anna:2@home", "ben:1@home"]


class Keys:
    def __init__(self, store):
        self.store = store

    def wrap(self, device, call_key):
        return callkey.wrap(self.store, device, call_key)

    def unwrap(self, device, enc_type, ciphertext):
        return callkey.unwrap(self.store, device, enc_type, ciphertext)


class Party:
    def __init__(self, device, sb, **engine_args):
        self.device = device
        self.engine_args = engine_args
        self.jid = device.jid
        self.store = device.store
        self.client = Client(sb.address, device.client_ssl_context())
        self.engine = CallEngine(device.jid, Keys(device.store), **engine_args)
        self.events = []
        self.link = []
        self.tasks = []

    async def start(self):
        await self.client.login(self.jid)
        self.tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._timers())]

    async def _read(self):
        try:
            while True:
                node = await self.client.recv(timeout=60)
                if ls.is_call_stanza(node):
                    self.engine.handle(st.parse(node), time.ticks_ms())
                    self.flush()
                    continue
                msg = ls.parse(node)
                if msg.kind == "pair":  # the door answers the phone's session as responder
                    ok = session.decrypt(self.store, msg.frm, msg.enc_type, msg.ciphertext) \
                        == ls.PAIR_PLAINTEXT
                    self.client.send(lp.pair_result(msg.id, msg.frm, ok))
                else:
                    self.link.append(msg)
        except Closed:
            pass

    async def _timers(self):
        while True:
            await asyncio.sleep(0.01)
            deadline = self.engine.next_deadline()
            if deadline is not None and time.ticks_diff(time.ticks_ms(), deadline) >= 0:
                self.engine.on_timer(time.ticks_ms())
                self.flush()

    def flush(self):
        for s in self.engine.pending():
            self.client.send(s.to_node())
        self.events.extend(self.engine.events())

    def of_kind(self, kind):
        return [e for e in self.events if e.kind == kind]

    async def pair_with(self, door_jid):
        self.client.send(lp.bundle_get("B1", door_jid))
        got = await until(lambda: [m for m in self.link if m.kind == "bundle_result"])
        x3dh.initiate(self.store, door_jid, Bundle.decode(got[0].bundle))
        enc_type, ct = session.encrypt(self.store, door_jid, ls.PAIR_PLAINTEXT)
        self.client.send(lp.pair("P1", door_jid, enc_type, ct))
        res = await until(lambda: [m for m in self.link if m.kind == "pair_result"])
        assert res[0].ok and res[0].frm == door_jid

    def stop(self):
        for t in self.tasks:
            t.cancel()
        self.client.close()


async def until(cond, timeout=10):
    end = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.005)


def run_world(body, **engine_args):
    folder = tempfile.mkdtemp(prefix="portier-sb-calls-")
    try:
        db = folder + "/sb.db"
        hh = provisioning.create_household("home")
        devices = [provisioning.add_device(hh, n, db=db, prekeys=3)
                   for n in ("door", "anna", "anna", "ben")]

        async def main():
            sb = Switchboard(db, ssl_context=hh.server_ssl_context())
            await sb.start("127.0.0.1", 0)
            parties = [Party(d, sb, **engine_args) for d in devices]
            try:
                await asyncio.wait_for(body(sb, parties[0], parties[1:]), 30)
            finally:
                for p in parties:
                    p.stop()
                await sb.close()

        asyncio.run(main())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_answered_call_through_the_switchboard():
    async def body(sb, door, phones):
        for p in [door] + phones:
            await p.start()
        for p in phones:
            await p.pair_with(DOOR)
        call_id = door.engine.place_call("household@home", PHONES, time.ticks_ms())
        door.flush()
        await until(lambda: all(p.of_kind("ringing") for p in phones))
        await until(lambda: len(door.of_kind("ringing")) == 3)
        anna = phones[0]
        anna.engine.answer(call_id, time.ticks_ms())
        anna.flush()
        d_media = (await until(lambda: door.of_kind("media")))[0]
        a_media = (await until(lambda: anna.of_kind("media")))[0]
        assert d_media.call_key == a_media.call_key and len(d_media.call_key) == 32
        assert d_media.peer == anna.jid and a_media.peer == DOOR
        assert (d_media.relay.self_pid, a_media.relay.self_pid) == (1, 2)
        # one call (handle) on the relay, each its own leg token
        d_token, a_token = d_media.relay.tokens[0][1], a_media.relay.tokens[0][1]
        assert d_token[:8] == a_token[:8] and d_token != a_token
        for token in (d_token, a_token):
            assert relay.check_token(sb.relay_secret, token, time.time()) is not None
        assert d_media.relay.endpoints[0].address[4:] == sb.relay.address[1].to_bytes(2, "big")
        for other in phones[1:]:
            end = (await until(lambda: other.of_kind("ended")))[0]
            assert (end.outcome, end.reason) == ("answered_elsewhere", "accepted_elsewhere")
            assert not other.of_kind("media")
        door.engine.hang_up(call_id, time.ticks_ms())
        door.flush()
        end = (await until(lambda: anna.of_kind("ended")))[0]
        assert end.outcome == "answered"

    run_world(body)


def test_a_device_offline_during_a_missed_call_never_rings_later():
    async def body(sb, door, phones):
        for p in [door] + phones:
            await p.start()
        for p in phones:
            await p.pair_with(DOOR)
        late = phones[2]
        late.stop()  # ben's phone goes offline
        await until(lambda: late.jid not in sb.connected())
        call_id = door.engine.place_call("household@home", PHONES, time.ticks_ms())
        door.flush()
        await until(lambda: all(p.of_kind("ringing") for p in phones[:2]))
        assert sb.queued(late.jid) == 1  # the offer waits for ben
        end = (await until(lambda: door.of_kind("ended"), timeout=5))[0]
        assert end.outcome == "unanswered"
        for p in phones[:2]:
            assert (await until(lambda: p.of_kind("ended")))[0].outcome == "missed"
        await until(lambda: sb.queued(late.jid) == 0)
        back = Party(late.device, sb, **late.engine_args)  # ben's phone comes back
        await back.start()
        back.client.send(ls.ping("Z1"))  # queued stanzas are flushed before this is answered
        await until(lambda: [m for m in back.link if m.kind == "pong"])
        assert back.events == [] and back.engine.current() is None
        assert call_id not in [getattr(m, "call_id", None) for m in back.link]
        back.stop()

    run_world(body, ring_timeout_ms=400)
