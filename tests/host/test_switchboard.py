"""The switchboard over real sockets on loopback (docs/protocol.md section 8): mutual TLS,
hello/ready, routing with from-stamping, offer fan-out with relay blocks, retransmissions,
the offline queue, prekey bundles, pairing, hostile input, restart."""

import asyncio
import os
import shutil
import ssl
import tempfile
import time

from sbclient import Client, Closed

from portier_host import paths, pki, provisioning, relay
from portier_host.switchboard import Switchboard
from portier_host.switchboard_db import Database

paths.use_firmware()
from portier.e2e import x3dh  # noqa: E402
from portier.e2e.keys import Bundle  # noqa: E402
from portier.e2e.stores import MemoryStore  # noqa: E402
from portier.e2e import keys as e2e_keys  # noqa: E402
from portier.signaling import linkstanzas as ls  # noqa: E402
from portier.signaling import linkpair as lp  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.wire import relaybind  # noqa: E402
from portier.wire.stanza import Node  # noqa: E402

PREKEYS = 4
_W = {}  # the provisioned world, made once per module (XEdDSA signing is slow-ish)


def setup_module():
    folder = tempfile.mkdtemp(prefix="portier-sb-test-")
    db = os.path.join(folder, "template.db")
    hh = provisioning.create_household("home")
    away = provisioning.create_household("away")
    provisioning.register_household(db, hh)
    devices = {}
    for name in ("door", "anna", "anna", "ben"):
        d = provisioning.add_device(hh, name, db=db, prekeys=PREKEYS)
        devices[d.jid] = d
    eve = provisioning.add_device(away, "eve", db=db, prekeys=PREKEYS)
    _W.update(folder=folder, template=db, hh=hh, away=away, dev=devices, eve=eve, n=0)


def teardown_module():
    shutil.rmtree(_W["folder"], ignore_errors=True)


def _fresh_db():
    _W["n"] += 1
    path = os.path.join(_W["folder"], "sb%d.db" % _W["n"])
    shutil.copy(_W["template"], path)
    return path


def run(coro_fn, insecure=False, db=None, **kw):
    """Start a switchboard on a fresh copy of the database, run coro_fn(sb), close it."""
    db = db or _fresh_db()

    async def main():
        ctx = None if insecure else _W["hh"].server_ssl_context()
        sb = Switchboard(db, ssl_context=ctx, insecure=insecure, **kw)
        await sb.start("127.0.0.1", 0)
        try:
            await asyncio.wait_for(coro_fn(sb), 20)
        finally:
            await sb.close()
        return sb

    return asyncio.run(main())


def ctx_of(jid):
    return _W["dev"][jid].client_ssl_context()


async def login(sb, jid):
    c = Client(sb.address, ctx_of(jid))
    await c.login(jid)
    return c


async def expect_refused(client, hello_jid):
    """The link ends without ready: the TLS handshake fails, or failure then close."""
    try:
        await client.connect()
        client.send(ls.hello(hello_jid))
        got = await client.recv()
    except (Closed, ssl.SSLError, ConnectionError):
        return None
    assert got.tag == "failure", got
    try:
        extra = await client.recv()
    except Closed:
        return got.get("reason")
    raise AssertionError("link stayed open after failure: %r" % extra)


DOOR, ANNA1, ANNA2, BEN = "door:1@home", "anna:1@home", "anna:2@home", "ben:1@home"
CALL_ID = "0123456789ABCDEF0123456789ABCDEF"


def offer(to, encs, stanza_id="S1", call_id=CALL_ID):
    if len(encs) == 1 and to != "household@home":
        return st.Stanza("offer", call_id=call_id, call_creator=DOOR, audio=list(st.PORTIER_AUDIO),
                         enc=encs[0][1], to=to, stanza_id=stanza_id)
    return st.Stanza("offer", call_id=call_id, call_creator=DOOR, audio=list(st.PORTIER_AUDIO),
                     destination=encs, to=to, stanza_id=stanza_id)


def enc_for(jid):
    return st.enc(b"wrapped-for-" + jid.encode(), "pkmsg")


# -- authentication --


def test_tls_mutual_auth_good_certificate():
    async def body(sb):
        c = await login(sb, DOOR)
        assert sb.connected() == [DOOR]
        c.close()
    run(body)


def test_ready_carries_the_switchboard_clock():
    async def body(sb):
        c = Client(sb.address, ctx_of(ANNA1))
        await c.connect()
        c.send(ls.hello(ANNA1))
        got = ls.parse(await c.recv())
        assert got.kind == "ready" and got.jid == ANNA1 and abs(got.t - time.time()) <= 2
        c.close()
    run(body)


def test_tls_refuses_a_certificate_of_another_ca():
    rogue_ca = pki.new_ca("rogue")
    rogue = pki.issue_device(rogue_ca, DOOR)

    async def body(sb):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=_W["hh"].ca_pem().decode())
        provisioning._load_chain(ctx, rogue)
        assert await expect_refused(Client(sb.address, ctx), DOOR) is None
        assert sb.connected() == []
    run(body)


def test_tls_refuses_a_client_without_certificate():
    async def body(sb):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=_W["hh"].ca_pem().decode())
        assert await expect_refused(Client(sb.address, ctx), DOOR) is None
        assert sb.connected() == []
    run(body)


def test_tls_hello_must_match_the_certificate():
    async def body(sb):
        assert await expect_refused(Client(sb.address, ctx_of(ANNA1)), DOOR) == "auth"
        assert sb.connected() == [] and sb.stats["refused"] == 1
    run(body)


def test_stanzas_before_ready_are_refused():
    async def body(sb):
        anna = await login(sb, ANNA1)
        c = Client(sb.address, ctx_of(DOOR))
        await c.connect()
        call = st.Stanza("terminate", call_id=CALL_ID, call_creator=DOOR, to=ANNA1, stanza_id="X1")
        c.send(call.to_node())
        assert (await c.recv()).tag == "failure"
        assert await anna.barrier() == []  # nothing was routed
        garbage = Client(sb.address, ctx_of(BEN))
        await garbage.connect()
        garbage.send_raw(b"\x00\x00\x02\xff\xff")  # a frame that is no stanza, before hello
        assert (await garbage.recv()).get("reason") == "auth"
        assert sb.connected() == [ANNA1] and sb.stats["refused"] == 2
        anna.close()
    run(body)


def test_insecure_takes_the_jid_from_hello():
    async def body(sb):
        c = Client(sb.address)
        await c.login(BEN)
        assert await expect_refused(Client(sb.address), "nobody:1@home") == "unknown"
        bad = Client(sb.address)
        await bad.connect()
        bad.send(Node("hello", {"jid": BEN, "v": "9"}))
        assert (await bad.recv()).get("reason") == "version"
        assert sb.connected() == [BEN]
        c.close()
    run(body, insecure=True)


def test_plain_tcp_needs_the_insecure_flag():
    try:
        Switchboard(_fresh_db())
    except ValueError:
        return
    raise AssertionError("a switchboard without TLS started without insecure=True")


def test_newer_link_replaces_older():
    async def body(sb):
        first = await login(sb, ANNA1)
        second = await login(sb, ANNA1)
        try:
            await first.recv()
            raise AssertionError("old link still open")
        except Closed:
            pass
        assert await second.barrier() == []
        assert sb.connected() == [ANNA1] and sb.stats["replaced"] == 1
        second.close()
    run(body)


def test_idle_link_is_closed():
    async def body(sb):
        c = await login(sb, BEN)
        t0 = time.monotonic()
        try:
            await c.recv(timeout=5)
            raise AssertionError("got a stanza")
        except Closed:
            pass
        assert time.monotonic() - t0 >= 0.25 and sb.stats["idle_closed"] == 1
    run(body, idle_timeout_s=0.3)


# -- routing --


def test_routing_stamps_from_and_t():
    async def body(sb):
        door, anna = await login(sb, DOOR), await login(sb, ANNA1)
        forged = st.Stanza("terminate", call_id=CALL_ID, call_creator=DOOR, to=ANNA1,
                           frm=BEN, stanza_id="T1", reason="timeout")
        door.send(forged.to_node())
        got = await anna.recv_call()
        assert got.action == "terminate" and got.frm == DOOR and got.to == ANNA1
        assert got.reason == "timeout" and abs(got.t - time.time()) <= 2
        # acks and receipts go back the same way, from stamped, no t
        anna.send(st.Stanza("ack", stanza_id="T1", to=DOOR).to_node())
        anna.send(st.Stanza("receipt", stanza_id="T1", to=DOOR, call_id=CALL_ID, call_creator=DOOR,
                            of="offer").to_node())
        ack, receipt = await door.recv_call(), await door.recv_call()
        assert (ack.action, ack.frm, ack.stanza_id) == ("ack", ANNA1, "T1")
        assert (receipt.action, receipt.frm, receipt.call_id) == ("receipt", ANNA1, CALL_ID)
        door.close()
        anna.close()
    run(body)


def test_stanzas_outside_the_household_are_dropped():
    async def body(sb):
        door = await login(sb, DOOR)
        for to in ("eve:1@away", "ghost:1@home"):
            door.send(st.Stanza("terminate", call_id=CALL_ID, call_creator=DOOR, to=to,
                                stanza_id="T2").to_node())
        assert await door.barrier() == []
        assert sb.stats["dropped"] == 2 and sb.queued("eve:1@away") == 0
        door.close()
    run(body)


def test_offer_fans_out_to_three_devices_with_their_own_enc():
    async def body(sb):
        door = await login(sb, DOOR)
        phones = [await login(sb, j) for j in (ANNA1, ANNA2, BEN)]
        targets = [(j, enc_for(j)) for j in (ANNA1, ANNA2, BEN)]
        door.send(offer("household@home", targets).to_node())
        ack = await door.recv_call()
        now = time.time()
        assert ack.action == "ack" and ack.ack_type == "offer" and ack.stanza_id == "S1"
        assert ack.error_code is None
        r = ack.relay
        assert (r.uuid, r.self_pid, r.peer_pid) == (CALL_ID, 1, 2)
        assert len(r.key) == 16 and len(r.hbh_key) == 30
        [(token_id, token)] = r.tokens
        assert token_id == 0 and relay.check_token(sb.relay_secret, token, now) is not None
        handle, leg, tag, expiry = relaybind.split_public(token[:relaybind.PUBLIC_LEN])
        assert (leg, tag) == (1, relaybind.device_tag(DOOR))
        assert 630 - 3 <= expiry - now <= 630 + 1  # ring timeout + max call duration
        host, port = sb.relay.address
        assert [e.address for e in r.endpoints] == [bytes([127, 0, 0, 1]) + port.to_bytes(2, "big")]
        for leg, (phone, (jid, enc)) in enumerate(zip(phones, targets), 2):
            got = await phone.recv_call()
            assert got.action == "offer" and got.frm == DOOR and got.stanza_id == "S1"
            assert got.enc == enc and got.destination is None
            assert got.call_id == CALL_ID and got.audio == list(st.PORTIER_AUDIO)
            pr = got.relay
            assert (pr.self_pid, pr.peer_pid, pr.endpoints) == (2, 1, r.endpoints)
            # each callee its own leg token: same call (handle), its leg, its device
            [(token_id, mine)] = pr.tokens
            assert token_id == 0 and relay.check_token(sb.relay_secret, mine, now) is not None
            assert relaybind.split_public(mine[:relaybind.PUBLIC_LEN]) == (
                handle, leg, relaybind.device_tag(jid), expiry)
            assert abs(got.t - now) <= 2
            assert await phone.barrier() == []
        for p in phones + [door]:
            p.close()
    run(body)


def test_retransmitted_offer_is_acked_again_not_fanned_out_again():
    async def body(sb):
        door, anna = await login(sb, DOOR), await login(sb, ANNA1)
        door.send(offer(ANNA1, [(ANNA1, enc_for(ANNA1))]).to_node())
        first = await door.recv_call()
        assert (await anna.recv_call()).action == "offer"
        door.send(offer(ANNA1, [(ANNA1, enc_for(ANNA1))]).to_node())
        again = await door.recv_call()
        assert again.stanza_id == "S1" and again.relay == first.relay
        assert await anna.barrier() == []
        assert sb.stats["offer_retransmits"] == 1 and sb.stats["offers"] == 1
        door.close()
        anna.close()
    run(body)


def test_offer_to_another_household_or_unknown_device_gets_404():
    async def body(sb):
        door = await login(sb, DOOR)
        for i, to in enumerate(("eve:1@away", "ghost:1@home", DOOR)):
            door.send(offer(to, [(to, enc_for(to))], stanza_id="F%d" % i).to_node())
            ack = await door.recv_call()
            assert ack.action == "ack" and ack.stanza_id == "F%d" % i
            assert ack.error_code == 404 and ack.relay is None
        # a destination whose devices are all foreign is refused too
        door.send(offer("household@home", [("eve:1@away", enc_for("eve:1@away")),
                                           ("zed:1@away", enc_for("zed:1@away"))], "F9").to_node())
        assert (await door.recv_call()).error_code == 404
        assert sb.queued("eve:1@away") == 0
        door.close()
    run(body)


def test_offline_device_gets_a_queued_offer_of_an_open_call():
    async def body(sb):
        door, anna = await login(sb, DOOR), await login(sb, ANNA1)
        targets = [(j, enc_for(j)) for j in (ANNA1, ANNA2)]
        door.send(offer("household@home", targets).to_node())
        assert (await door.recv_call()).relay is not None
        assert (await anna.recv_call()).enc == targets[0][1]
        assert sb.queued(ANNA2) == 1
        late = await login(sb, ANNA2)
        got = await late.recv_call()
        assert got.action == "offer" and got.enc == targets[1][1] and got.frm == DOOR
        assert sb.queued(ANNA2) == 0
        for c in (door, anna, late):
            c.close()
    run(body)


def test_offline_device_never_rings_for_an_ended_call():
    async def body(sb):
        door, anna = await login(sb, DOOR), await login(sb, ANNA1)
        door.send(offer("household@home", [(j, enc_for(j)) for j in (ANNA1, ANNA2)]).to_node())
        await door.recv_call()
        await anna.recv_call()
        for jid in (ANNA1, ANNA2):  # ring timeout: terminate to every device
            door.send(st.Stanza("terminate", call_id=CALL_ID, call_creator=DOOR, to=jid,
                                reason="timeout", stanza_id="E" + jid[:4]).to_node())
        assert (await anna.recv_call()).action == "terminate"
        assert sb.queued(ANNA2) == 0
        late = await login(sb, ANNA2)
        assert await late.barrier() == []
        for c in (door, anna, late):
            c.close()
    run(body)


def test_offline_queue_keeps_other_calls_and_a_terminate_without_queued_offer():
    async def body(sb):
        door = await login(sb, DOOR)
        door.send(offer(ANNA2, [(ANNA2, enc_for(ANNA2))], "S1", "C1").to_node())
        door.send(offer(ANNA2, [(ANNA2, enc_for(ANNA2))], "S2", "C2").to_node())
        await door.recv_call()
        await door.recv_call()
        # anna:2 rejects nothing; the door ends C1 only, and a call anna:2 never heard of
        door.send(st.Stanza("terminate", call_id="C1", call_creator=DOOR, to=ANNA2,
                            stanza_id="E1").to_node())
        door.send(st.Stanza("terminate", call_id="C3", call_creator=DOOR, to=ANNA2,
                            stanza_id="E3").to_node())
        late = await login(sb, ANNA2)
        got = [st.parse(n) for n in await late.barrier()]
        assert [(g.action, g.call_id) for g in got] == [("offer", "C2"), ("terminate", "C3")]
        door.close()
        late.close()
    run(body)


def test_offline_queue_expires_and_is_bounded():
    clock = [1_000_000.0]

    async def body(sb):
        door = await login(sb, DOOR)
        for i in range(70):
            door.send(st.Stanza("terminate", call_id="Q%d" % i, call_creator=DOOR, to=BEN,
                                stanza_id="Q%d" % i).to_node())
        assert await door.barrier() == []
        assert sb.queued(BEN) == 64  # the oldest six dropped
        clock[0] += 61
        assert sb.queued(BEN) == 0
        door.send(st.Stanza("terminate", call_id="Q99", call_creator=DOOR, to=BEN,
                            stanza_id="Q99").to_node())
        assert await door.barrier() == []
        ben = Client(sb.address, ctx_of(BEN))
        await ben.login(BEN)
        got = [st.parse(n) for n in await ben.barrier()]
        assert [g.call_id for g in got] == ["Q99"]
        door.close()
        ben.close()
    run(body, clock=lambda: clock[0])


# -- prekeys and pairing --


def test_bundle_get_hands_out_one_prekey_each_time():
    door_dev = _W["dev"][DOOR]

    async def body(sb):
        ben = await login(sb, BEN)
        seen = set()
        for i in range(PREKEYS + 1):
            ben.send(lp.bundle_get("G%d" % i, DOOR))
            got = ls.parse(await ben.recv())
            assert got.kind == "bundle_result" and got.id == "G%d" % i and got.jid == DOOR
            b = Bundle.decode(got.bundle)
            assert b.identity_key == door_dev.store.identity()[1]
            assert (b.signed_prekey_id, b.signed_prekey) == (1, door_dev.bundle.signed_prekey)
            if i < PREKEYS:
                assert b.prekey == door_dev.store.prekey(b.prekey_id)[1]
                assert b.prekey_id not in seen
                seen.add(b.prekey_id)
            else:
                assert b.prekey is None and b.prekey_id is None
        # the first bundle starts a real session: the signature verifies (x3dh.initiate checks)
        caller = MemoryStore()
        e2e_keys.generate_identity(caller)
        x3dh.initiate(caller, DOOR, Bundle.decode(got.bundle))
        for i, jid in enumerate(("eve:1@away", "ghost:1@home")):
            ben.send(lp.bundle_get("N%d" % i, jid))
            err = ls.parse(await ben.recv())
            assert (err.kind, err.code) == ("iq_error", 404)
        ben.close()
        assert len(seen) == PREKEYS
    db = _fresh_db()
    run(body, db=db)
    assert Database(db).prekey_count(DOOR) == 0


def test_prekeys_set_adds_keys_that_bundles_then_hand_out():
    async def body(sb):
        door, ben = await login(sb, DOOR), await login(sb, BEN)
        store = _W["dev"][DOOR].store
        new = e2e_keys.generate_prekeys(store, 500, 3)
        door.send(lp.prekeys_set("P1", new))
        got = ls.parse(await door.recv())
        assert (got.kind, got.id) == ("iq_result", "P1")
        assert sb.db.prekey_count(DOOR) == PREKEYS + 3
        handed = set()
        for i in range(PREKEYS + 3):
            ben.send(lp.bundle_get("G%d" % i, DOOR))
            handed.add(Bundle.decode(ls.parse(await ben.recv()).bundle).prekey_id)
        assert set(k for k, _ in new) <= handed
        door.close()
        ben.close()
    run(body)


def test_pair_is_routed_with_from_stamped():
    async def body(sb):
        door, anna = await login(sb, DOOR), await login(sb, ANNA1)
        anna.send(lp.pair("P7", DOOR, "pkmsg", b"\x33" * 90))
        got = ls.parse(await door.recv())
        assert (got.kind, got.id, got.frm, got.to) == ("pair", "P7", ANNA1, DOOR)
        assert (got.enc_type, got.ciphertext) == ("pkmsg", b"\x33" * 90)
        door.send(lp.pair_result("P7", ANNA1, True))
        res = ls.parse(await anna.recv())
        assert (res.kind, res.ok, res.frm) == ("pair_result", True, DOOR)
        anna.send(lp.pair("P8", "eve:1@away", "pkmsg", b"x"))
        assert await anna.barrier() == [] and await door.barrier() == []
        door.close()
        anna.close()
    run(body)


# -- hostile input, restart --


def test_malformed_input_does_not_disturb_other_links():
    from portier.wire.framing import encode_frame

    async def body(sb):
        door, anna, ben = await login(sb, DOOR), await login(sb, ANNA1), await login(sb, BEN)
        ben.send_raw(encode_frame(b"\xff\xfe\xfd garbage"))  # not a stanza
        ben.send_raw(encode_frame(bytes([0xF8, 0x02, 0x03])))  # truncated
        ben.send(Node("call", {"to": ANNA1}, [Node("offer", {})]))  # not a valid call stanza
        ben.send(Node("iq", {"id": "1", "type": "get"}, b"x"))  # not a valid link stanza
        assert await ben.barrier() == []  # still served
        assert sb.stats["malformed"] == 4
        door.send_raw(b"\xff\xff\xff")  # a frame above the limit: this link is closed
        try:
            await door.recv()
            raise AssertionError("link with a framing error stayed open")
        except Closed:
            pass
        assert sb.stats["framing_errors"] == 1
        ben.send(st.Stanza("terminate", call_id=CALL_ID, call_creator=BEN, to=ANNA1,
                           stanza_id="OK").to_node())
        got = await anna.recv_call()
        assert (got.action, got.frm) == ("terminate", BEN)
        assert sorted(sb.connected()) == [ANNA1, BEN]
        anna.close()
        ben.close()
    run(body)


def test_restart_with_the_same_database_keeps_accounts():
    db = _fresh_db()
    holder = {}

    async def first(sb):
        holder["secret"] = sb.relay_secret
        ben = await login(sb, BEN)
        ben.send(lp.bundle_get("G1", DOOR))
        assert ls.parse(await ben.recv()).kind == "bundle_result"
        ben.close()

    async def second(sb):
        assert sb.relay_secret == holder["secret"]
        for jid in (DOOR, ANNA1, ANNA2, BEN):
            (await login(sb, jid)).close()
        assert sb.db.prekey_count(DOOR) == PREKEYS - 1
        assert sb.db.accounts("home") == ["anna", "ben", "door"]

    run(first, db=db)
    run(second, db=db)


# -- the board side: real MicroPython --

_BOARD = r"""
import sys
sys.path.insert(0, %(firmware)r)
import asyncio, ssl
from portier.signaling import linkstanzas as ls
from portier.signaling import linkpair as lp
from portier.signaling import stanzas as st
from portier.wire import stanza as wire
from portier.wire.framing import FrameDecoder, encode_frame


def send(w, node):
    w.write(encode_frame(wire.encode(node)))


async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=open(%(ca)r, "rb").read())
    ctx.load_cert_chain(open(%(cert)r, "rb").read(), open(%(key)r, "rb").read())
    r, w = await asyncio.open_connection("127.0.0.1", %(port)d, ssl=ctx, server_hostname="localhost")
    send(w, ls.hello(%(jid)r))
    await w.drain()
    dec = FrameDecoder()
    buf = bytearray(1024)
    seen = []
    while "offer" not in seen or "pong" not in seen:
        n = await asyncio.wait_for_ms(r.readinto(buf), 10000)
        if not n:
            print("closed")
            break
        dec.feed(buf, n)
        for frame in dec.frames():
            node = wire.decode(frame)
            if ls.is_call_stanza(node):
                msg = st.parse(node)
                seen.append(msg.action)
                print("call", msg.action, msg.frm, msg.relay.self_pid, bytes(msg.enc.ciphertext))
            else:
                msg = ls.parse(node)
                seen.append(msg.kind)
                print(msg.kind, getattr(msg, "jid", None) or getattr(msg, "id", None))
                if msg.kind == "ready":
                    send(w, ls.ping("mp1"))
                    await w.drain()
    w.close()


asyncio.run(main())
"""


def test_real_micropython_board_logs_in_with_mutual_tls():
    board = _W["dev"][ANNA2]
    files = {}
    for name, data in (("ca", board.ca_der), ("cert", board.cert_der), ("key", board.key_der)):
        files[name] = os.path.join(_W["folder"], "mp-%s.der" % name)
        with open(files[name], "wb") as f:
            f.write(data)
    script = os.path.join(_W["folder"], "mp-board.py")

    async def body(sb):
        with open(script, "w") as f:
            f.write(_BOARD % dict(files, firmware=paths.FIRMWARE, port=sb.address[1], jid=ANNA2))
        proc = await asyncio.create_subprocess_exec(
            paths.micropython_exe(), "-X", "heapsize=256k", script,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        door = await login(sb, DOOR)
        while ANNA2 not in sb.connected():
            await asyncio.sleep(0.02)
        door.send(offer(ANNA2, [(ANNA2, enc_for(ANNA2))]).to_node())
        assert (await door.recv_call()).relay is not None
        out, err = await asyncio.wait_for(proc.communicate(), 15)
        lines = out.decode().splitlines()
        assert proc.returncode == 0, err.decode()
        assert lines[0] == "ready " + ANNA2
        assert sorted(lines[1:]) == sorted(["pong mp1", "call offer %s 2 %r" % (DOOR, b"wrapped-for-" + ANNA2.encode())])
        door.close()
    run(body)


def test_cli_serves_a_provisioned_household():
    import re
    import subprocess
    import sys

    root = tempfile.mkdtemp(prefix="portier-sb-cli-")
    try:
        hh = provisioning.create_household("flat", folder=os.path.join(root, "hh"))
        db = os.path.join(root, "sb.db")
        bell = provisioning.add_device(hh, "bell", db=db, prekeys=1)
        proc = subprocess.Popen(
            [sys.executable, "-m", "portier_host.cli", "switchboard", "--db", db,
             "--provisioning", os.path.join(root, "hh"), "--port", "0", "--relay-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = proc.stdout.readline()
            m = re.match(r"switchboard: listening on 127\.0\.0\.1:(\d+), relay udp 127\.0\.0\.1:(\d+)", line)
            assert m, line

            async def main():
                c = Client(("127.0.0.1", int(m.group(1))), bell.client_ssl_context())
                await c.login(bell.jid)
                assert await c.barrier() == []
                c.close()
            asyncio.run(main())
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_connection_that_never_says_hello_is_closed():
    async def body(sb):
        c = Client(sb.address, ctx_of(BEN))
        await c.connect()
        try:
            await c.recv(timeout=5)
            raise AssertionError("got a stanza")
        except Closed:
            pass
        assert sb.stats["hello_timeouts"] == 1 and sb.connected() == []
    run(body, hello_timeout_s=0.2)


def test_relay_block_names_the_advertised_or_separate_relay():
    async def body(sb):
        door = await login(sb, DOOR)
        door.send(offer(ANNA1, [(ANNA1, enc_for(ANNA1))]).to_node())
        ack = await door.recv_call()
        assert ack.relay.endpoints[0].address == bytes([10, 1, 2, 3]) + (4000).to_bytes(2, "big")
        assert relay.check_token(b"s" * 32, ack.relay.tokens[0][1], time.time()) is not None
        assert sb.relay is None
        door.close()
    run(body, run_relay=False, relay_address=("0.0.0.0", 4000), relay_public_host="10.1.2.3",
        relay_secret=b"s" * 32)


def test_a_device_provisioned_while_running_can_log_in():
    db = _fresh_db()

    async def body(sb):
        new = provisioning.add_device(_W["hh"], "carl", db=db, prekeys=1)
        assert new.jid == "carl:1@home"
        c = Client(sb.address, new.client_ssl_context())
        await c.login(new.jid)
        c.send(lp.bundle_get("G", new.jid))
        assert Bundle.decode(ls.parse(await c.recv()).bundle).prekey == new.prekeys[0][1]
        c.close()
    run(body, db=db)
