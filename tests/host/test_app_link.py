"""The device app (portier.app) end to end on loopback against a miniature switchboard
(tests/host/minisb.py, written from docs/protocol.md section 8): the door as a real MicroPython
process and as a CPython process (through the shim), mutual TLS with pki certificates, ready,
the switchboard's ping answered, an offer rung, the link dropped and re-established with
backoff, pairing door <-> phones over real Signal sessions, and the button ringing every paired
phone with one wrapped key each."""

import asyncio
import json
import os
import sys
import time

import pytest

from portier_host import bundle, paths, pki
from portier_host.authority import Authority

paths.use_firmware()

from portier.e2e import keys as e2e_keys  # noqa: E402
from portier.hal.controls import LED_CONNECTING, LED_ERROR, LED_IDLE, LED_RINGING  # noqa: E402
from portier.e2e.stores import FileStore  # noqa: E402
from portier.signaling import linkstanzas as ls  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from minisb import MiniSwitchboard, server_tls  # noqa: E402

DOOR = "door:1@home"
ANNA = "anna:2@home"
BEN = "ben:3@home"
RUNTIMES = ["micropython", "cpython"]
AUTHORITY = Authority.new()  # the household's pairing authority (protocol 8.5), in memory


@pytest.fixture(scope="module")
def ca():
    return pki.new_ca()


def _config(ca, jid, tmp_path, port, tls=True, **extra):
    """A device's config from the bundle writer, its certificate and key (from ca) in
    tmp_path/NAME, where its Signal store and call log go too; tls=False: plain TCP."""
    folder = tmp_path / jid.split(":")[0]
    folder.mkdir(exist_ok=True)
    if tls:
        ident = pki.issue_device(ca, jid)
        (folder / "ca.der").write_bytes(ca.cert_der())
        (folder / "cert.der").write_bytes(ident.cert_der())
        (folder / "key.der").write_bytes(ident.key_der())
    return bundle.device_config(jid, "127.0.0.1", port, base=str(folder), insecure=not tls,
                                **dict({"control": "stdin"}, **extra))


def _provision_door(folder, **secrets):
    """The door's Signal identity and prekeys in folder, as provisioning leaves them on flash,
    and its secrets file there with its pairing key (and any other secrets_document() takes);
    returns (its bundles for the switchboard, one per one-time prekey; the secrets file)."""
    folder.mkdir(exist_ok=True)
    path = bundle.write_secrets(str(folder), bundle.secrets_document(
        pair_key=AUTHORITY.door_key(DOOR), **secrets))
    store = FileStore(str(folder / bundle.STORE_NAME))
    e2e_keys.generate_identity(store)
    e2e_keys.generate_signed_prekey(store, 1)
    e2e_keys.generate_prekeys(store, 1, 4)
    return [e2e_keys.bundle(store, 1, i).encode() for i in (1, 2, 3, 4)], path


class Device:
    """One app as a child process: JSON lines in, commands out."""

    def __init__(self, runtime, cfg, tmp_path):
        self.runtime = runtime
        self.path = tmp_path / ("%s.json" % cfg["jid"].split(":")[0])
        bundle.write_config(str(tmp_path), cfg, self.path.name)
        self.lines = []
        self.got = asyncio.Event()

    async def start(self):
        if self.runtime == "micropython":
            cmd = [paths.micropython_exe(), "firmware/main.py", str(self.path)]
        else:
            cmd = [sys.executable, "-m", "portier_host.phone", "--json", "--config", str(self.path)]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=paths.REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self):
        while True:
            raw = await self.proc.stdout.readline()
            if not raw:
                return
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                self.lines.append({"raw": raw.decode(errors="replace")})
            self.got.set()

    async def wait(self, pred, timeout=30.0):
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if pred(line):
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0 or self._reader.done() and seen == len(self.lines):
                raise AssertionError("no matching line; output:\n" + "\n".join(
                    json.dumps(x) for x in self.lines[-40:]))
            self.got.clear()
            try:
                await asyncio.wait_for(self.got.wait(), min(left, 0.5))
            except asyncio.TimeoutError:
                pass

    async def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self):
        if self.proc.returncode is None:
            try:
                await self.send("quit")
                await asyncio.wait_for(self.proc.wait(), 10)
            except (asyncio.TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()
        await self._reader


def _leds(device):
    return [d["state"] for d in device.lines if d.get("msg") == "led"]


def _event(kind):
    return lambda d: d.get("src") == "engine" and d.get("kind") == kind


def _stanza(direction, tag, action=None):
    return lambda d: (d.get("src") == "link" and d.get("msg") == direction and d.get("tag") == tag
                      and (action is None or d.get("action") == action))


def _offer_from_anna(call_id):
    enc = st.enc(b"\x33" * 40, "msg")  # never opened: the door only rings
    node = st.Stanza("offer", call_id=call_id, call_creator=ANNA, audio=st.PORTIER_AUDIO, enc=enc,
                     to=DOOR, stanza_id="S" + call_id[:8]).to_node()
    node.attrs["from"] = ANNA
    return node


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 80))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_door_tls_ready_ping_offer_rings(ca, tmp_path, runtime):
    async def body():
        sb = await MiniSwitchboard(server_tls(ca, pki.issue_server(ca), tmp_path)).start()
        door = await Device(runtime, _config(ca, DOOR, tmp_path, sb.port), tmp_path).start()
        try:
            ready = await door.wait(lambda d: d.get("msg") == "ready")
            assert ready["connect_ms"] >= 0 and ready["n"] == 1
            assert sb.hellos[0][0] == DOOR
            await sb.send(DOOR, ls.ping("SB1"))
            jid, pong = await sb.wait_for(lambda j, n: n.tag == "pong")
            assert jid == DOOR and ls.parse(pong).id == "SB1"
            call_id = "A1" * 16
            await sb.send(DOOR, _offer_from_anna(call_id))
            ring = await door.wait(_event("ringing"))
            assert ring["call_id"] == call_id and ring["direction"] == "in" and ring["peer"] == ANNA
            # the stanza trace names the offer it received and the receipt it sent
            await door.wait(lambda d: _stanza("in", "call", "offer")(d) and d["call-id"] == call_id)
            await sb.wait_for(lambda j, n: n.tag == "receipt")
            await door.send("reject")
            _, rej = await sb.wait_for(lambda j, n: n.tag == "call" and n.content[0].tag == "reject")
            assert rej.attrs["to"] == ANNA and rej.content[0].attrs["call-id"] == call_id
            ended = await door.wait(_event("ended"))
            assert ended["outcome"] == "declined"
            entry = await door.wait(lambda d: d.get("msg") == "call log")
            # dated from the switchboard's clock at <ready>
            assert abs(entry["start"] - time.time()) < 30 and entry["peer"] == ANNA
        finally:
            await door.stop()
            await sb.close()
        log = json.loads((tmp_path / "door" / "calls.json").read_text())
        assert log and "declined" in json.dumps(log)

    _run(body())


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_link_drop_reconnects_with_backoff(ca, tmp_path, runtime):
    async def body():
        sb = await MiniSwitchboard().start()  # plain TCP: the config says insecure
        door = await Device(runtime, _config(ca, DOOR, tmp_path, sb.port, tls=False),
                            tmp_path).start()
        try:
            await door.wait(lambda d: d.get("msg") == "ready")
            t0 = time.monotonic()
            sb.drop(DOOR)
            wait = await door.wait(lambda d: d.get("msg") == "reconnect")
            assert 750 <= wait["wait_ms"] <= 1250  # 1 s +-25 %
            again = await door.wait(lambda d: d.get("msg") == "ready" and d.get("n") == 2)
            assert again["n"] == 2
            assert 0.7 <= time.monotonic() - t0 < 10
            # a call rings, then the switchboard goes away: the waits grow 1 s, 2 s, ... and
            # past the 20 s grace the call ends connection_lost (the door on MicroPython only:
            # the grace costs 20 s of test time)
            if runtime == "micropython":
                await sb.send(DOOR, _offer_from_anna("B2" * 16))
                await door.wait(_event("ringing"))
            n = len(door.lines)
            await sb.close()
            t_down = time.monotonic()

            def reconnect(k):
                return lambda d: d.get("msg") == "reconnect" and door.lines.index(d) >= n and \
                    sum(1 for x in door.lines[n:door.lines.index(d) + 1]
                        if x.get("msg") == "reconnect") == k
            first = await door.wait(reconnect(1))
            second = await door.wait(reconnect(2))
            assert 750 <= first["wait_ms"] <= 1250
            assert 1500 <= second["wait_ms"] <= 2500
            if runtime == "micropython":
                ended = await door.wait(_event("ended"), timeout=40)
                assert ended["reason"] == "connection_lost" and ended["outcome"] == "missed"
                assert 19.5 <= time.monotonic() - t_down < 30
                # the LED: ringing until the call ended, then the error past the grace
                await door.wait(lambda d: d.get("msg") == "led" and d["state"] == LED_ERROR)
                assert _leds(door) == [LED_CONNECTING, LED_IDLE, LED_CONNECTING, LED_IDLE,
                                       LED_RINGING, LED_ERROR]
            else:  # idle: connecting at once (the error only past the 20 s grace)
                await door.wait(lambda d: d.get("msg") == "led" and door.lines.index(d) >= n)
                assert _leds(door) == [LED_CONNECTING, LED_IDLE, LED_CONNECTING, LED_IDLE,
                                       LED_CONNECTING]
        finally:
            await door.stop()

    _run(body())


def test_pairing_then_press_rings_every_paired_phone(ca, tmp_path):
    """Door on real MicroPython; two phones on CPython in this process (portier.app with the
    phone profile). Each phone pairs over a real X3DH session; the door keeps both on flash;
    its button then offers the household one enc per paired phone; Anna answers, Ben is told
    accepted_elsewhere."""
    RecordingMedia.made.clear()  # shared with other modules' tests that import it

    async def body():
        bundles, secrets = _provision_door(tmp_path / "door")
        sb = await MiniSwitchboard(server_tls(ca, pki.issue_server(ca), tmp_path),
                                   bundles={DOOR: bundles}).start()
        door_cfg = _config(ca, DOOR, tmp_path, sb.port, secrets=secrets)
        door = await Device("micropython", door_cfg, tmp_path).start()
        phones = {}
        logs = {ANNA: [], BEN: []}
        tasks = []
        try:
            await door.wait(lambda d: d.get("msg") == "ready")
            await start_paired_phones(ca, tmp_path, sb.port, door, phones, logs, tasks)
            paired = json.loads((tmp_path / "door" / "keys" / "paired.json").read_text())
            assert sorted(paired["paired"]) == [ANNA, BEN] and paired["revoked"] == {}
            await _until(lambda: all(any(x["msg"] == "paired" for x in logs[j]) for j in logs))
            # the bundle was fetched from the switchboard, the pair stanzas carried pkmsgs
            pairs = [n for j, n in sb.received if n.tag == "pair" and n.content]
            assert len(pairs) == 2 and all(ls.parse(n).enc_type == "pkmsg" for n in pairs)

            await door.send("press")
            _, offer = await sb.wait_for(
                lambda j, n: j == DOOR and n.tag == "call" and n.content[0].tag == "offer")
            msg = st.parse(offer)
            assert offer.attrs["to"] == "household@home"
            assert sorted(d for d, _ in msg.destination) == [ANNA, BEN]
            assert len(msg.destination) == 2
            out = await door.wait(_stanza("out", "call", "offer"))
            assert out["encs"] == 2
            await _until(lambda: all(phones[j].engine.current() is not None for j in phones))
            await door.wait(_event("ringing"))
            # the ringing door loads its media code now, not between accept and first audio
            await door.wait(lambda x: x.get("msg") == "media loaded" and x.get("ok"))
            await phones[ANNA].command("answer")  # unwraps the key with the real session
            await door.wait(_event("answered"))
            media = await door.wait(_event("media"))
            assert media["peer"] == ANNA
            await _until(lambda: any(x.get("kind") == "ended" for x in logs[BEN]))
            ben_end = [x for x in logs[BEN] if x.get("kind") == "ended"][0]
            assert ben_end["outcome"] == "answered_elsewhere"
            assert any(x.get("kind") == "media" for x in logs[ANNA])
            # Anna's media session got the call's key, codec and relay block; Ben's none
            await _until(lambda: RecordingMedia.made and RecordingMedia.made[0].ran)
            assert len(RecordingMedia.made) == 1
            m = RecordingMedia.made[0]
            assert m.ran and m.kw["own_jid"] == ANNA and m.kw["peer_jid"] == DOOR
            assert len(m.kw["call_key"]) == 32 and m.kw["call_id"] == msg.call_id
            assert m.kw["codec"] in st.PORTIER_AUDIO and len(m.kw["relay_token"]) == 33
            assert m.kw["pid"] == 2 and m.kw["relay_port"] > 0
            assert m.kw["audio"].rate == m.kw["codec"][1]
            await phones[ANNA].command("hangup")
            ended = await door.wait(_event("ended"))
            assert ended["outcome"] == "answered" and ended["peer"] == ANNA
            await _until(lambda: m.stopped.is_set())
            assert any(x.get("msg") == "media stop" for x in logs[ANNA])
            await door.wait(lambda d: d.get("msg") in ("media start", "no media module: call without audio"))
        except BaseException:
            print_phone_logs(logs)
            raise
        finally:
            await stop_all(door, sb, phones, tasks)

    _run(body())


def authorised(cfg, door=DOOR):
    """A phone's config with the household's authorisation for door: its identity made now
    (as provisioning does) so the authorisation can name it."""
    store = FileStore(cfg["e2e_store"])
    try:
        store.identity()
    except ValueError:
        e2e_keys.generate_identity(store)
    cfg["pair_auth"] = {door: AUTHORITY.authorise(door, cfg["jid"], store.identity()[1]).hex()}
    return cfg


async def start_paired_phones(ca, tmp_path, port, door, phones, logs, tasks):
    """A phone (portier.app, profile phone, in this process) per JID in logs, each pairing with
    the door; returns once the door has kept them all. phones[jid]: its App, logs[jid]: its log
    lines, tasks: their run() tasks."""
    from portier import app, config
    from portier.hal.vdoor import VirtualDoor

    for jid in logs:
        cfg = config.check(authorised(_config(ca, jid, tmp_path, port, pair_with=[DOOR],
                                              profile="phone", control="none")))
        phones[jid] = app.App(cfg, VirtualDoor({}), media_class=RecordingMedia,
                              log=lambda lvl, src, msg, f, j=jid: logs[j].append(
                                  dict(f, lvl=lvl, src=src, msg=msg)))
        tasks.append(asyncio.create_task(phones[jid].run()))
    for jid in logs:
        await door.wait(lambda d, j=jid: d.get("msg") == "paired" and d["device"] == j,
                        timeout=60)


def print_phone_logs(logs):
    """On a failure: the last lines each phone logged (pytest shows them with the error)."""
    for jid in logs:
        print(jid, "\n".join(json.dumps(x) for x in logs[jid][-30:]))


async def stop_all(door, sb, phones, tasks):
    """Ends what start_paired_phones and the test started: the phones, the door, the switchboard."""
    for p in phones.values():
        p.quit()
    for t in tasks:
        await asyncio.wait_for(t, 10)
    await door.stop()
    await sb.close()


class RecordingMedia:
    """Stands in for portier.net.media.MediaSession: keeps what the app handed it."""

    made = []

    def __init__(self, **kw):
        self.kw = kw
        self.audio = kw["audio"]
        self.stopped = asyncio.Event()
        self.ran = False
        RecordingMedia.made.append(self)

    async def run(self):
        self.ran = True
        await self.stopped.wait()

    def stop(self):
        self.stopped.set()

    def silent_ms(self, now):
        return 0  # the stand-in never goes quiet

    class stats:  # noqa: N801 - stands in for MediaSession.stats
        @staticmethod
        def to_dict():
            return {"sent": 0, "received": 0}


async def _until(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in %.0f s" % timeout)
        await asyncio.sleep(0.02)


def test_real_switchboard_pair_press_answer(tmp_path):
    """The same with portier switchboard and portier_host.provisioning (as `portier provision`
    and the simulator make devices): the door on real MicroPython, two phones in-process."""
    from portier import app, config
    from portier.hal.vdoor import VirtualDoor
    from portier_host import provisioning
    from portier_host.switchboard import Switchboard

    db = str(tmp_path / "sb.db")
    hh = provisioning.create_household("home")
    devs = [provisioning.add_device(hh, n, db=db, folder=str(tmp_path / n), prekeys=3)
            for n in ("door", "anna", "ben")]

    def cfg_of(dev, port, **extra):
        return bundle.device_config(dev.jid, "127.0.0.1", port, base=dev.folder,
                                    **dict({"control": "stdin"}, **extra))

    async def body():
        sb = await Switchboard(db, ssl_context=hh.server_ssl_context()).start("127.0.0.1", 0)
        port = sb.address[1]
        secrets = bundle.write_secrets(devs[0].folder, bundle.secrets_document(
            pair_key=AUTHORITY.door_key(devs[0].jid)))
        door = await Device("micropython", cfg_of(devs[0], port, secrets=secrets),
                            tmp_path).start()
        logs = {d.jid: [] for d in devs[1:]}
        phones, tasks = {}, []
        try:
            await door.wait(lambda d: d.get("msg") == "ready")
            for dev in devs[1:]:
                cfg = config.check(authorised(cfg_of(dev, port, profile="phone", control="none",
                                                     pair_with=[devs[0].jid], call=devs[0].jid),
                                              devs[0].jid))
                phones[dev.jid] = app.App(cfg, VirtualDoor({}), media_class=RecordingMedia,
                                          log=lambda lvl, src, msg, f, j=dev.jid: logs[j].append(
                                              dict(f, lvl=lvl, src=src, msg=msg)))
                tasks.append(asyncio.create_task(phones[dev.jid].run()))
            for jid in logs:
                await door.wait(lambda d, j=jid: d.get("msg") == "paired" and d["device"] == j)
            await door.send("press")
            out = await door.wait(_stanza("out", "call", "offer"))
            assert out["encs"] == 2 and out["to"] == "household@home"
            await door.wait(_event("ringing"))
            await _until(lambda: all(p.engine.current() is not None for p in phones.values()))
            anna = devs[1].jid
            await phones[anna].command("answer")
            media = await door.wait(_event("media"))
            assert media["peer"] == anna
            # the callee starts media a moment later, on the door's <transport>
            await _until(lambda: any(x.kw["own_jid"] == anna for x in RecordingMedia.made))
            m = [x for x in RecordingMedia.made if x.kw["own_jid"] == anna][-1]
            assert m.kw["own_jid"] == anna and len(m.kw["relay_token"]) == 33 and m.kw["relay_host"]
            await door.send("hangup")
            ended = await door.wait(_event("ended"))
            assert ended["outcome"] == "answered"
            await _until(lambda: any(x.get("kind") == "ended" for x in logs[anna]))
            # incoming: Anna calls the door, the door answers (its button / the simulator)
            n = len(door.lines)
            await phones[anna].command("call")
            ring = await door.wait(lambda d: door.lines.index(d) >= n and _event("ringing")(d))
            assert ring["direction"] == "in" and ring["peer"] == anna
            await door.send("answer")
            media = await door.wait(lambda d: door.lines.index(d) >= n and _event("media")(d))
            assert media["direction"] == "in" and media["peer"] == anna
            await phones[anna].command("hangup")
            ended = await door.wait(lambda d: door.lines.index(d) >= n and _event("ended")(d))
            assert ended["outcome"] == "answered" and ended["direction"] == "in"
        finally:
            await stop_all(door, sb, phones, tasks)

    _run(body())
