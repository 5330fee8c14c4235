"""`portier sim`: a whole household on loopback, playing one call scenario.

It provisions a household exactly as `portier provision` does (portier_host.provisioning),
starts the switchboard with its in-process media relay, runs the door as the real firmware app
in its own process (on real MicroPython by default, from the firmware precompiled with
mpy-cross as deploy ships it), runs N softphones in this process (the same app on CPython),
lets the phones pair with the door (real Signal sessions), plays the scenario, and reports:
the stanzas as the switchboard routed them, each party's call log, media statistics, how well
the audio survived, and the timings that matter to a visitor at the door.

With an ExternalDoor the door is not started here: it is a provisioned (virtual) board running
the firmware. The simulator then runs its own switchboard, on the address the door dials (its
config names it; nothing may listen there: the household's own switchboard is stopped first),
with a private copy of the household's database that holds the door and the simulator's
phones only: the household's database is only read, and its real phones, should they connect,
are refused rather than rung. It reads the door's log lines from the board's serial port and
presses its button (ExternalDoorSimulation); the door's store and paired devices are saved
before and put back after (portier_host.boardsnap), so the door keeps no simulated phone.
"""

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time

from . import build, bundle, paths, provision, provisioning, simreport
from .authority import Authority
from .switchboard import Switchboard

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402
from portier.app import App  # noqa: E402

from .phone import PhoneHal  # noqa: E402

HOUSEHOLD = "home"
DOOR_HEAP = "384k"
# A heap probe (bench/heapprobe.py) searches the smallest door heap through this variable.
DOOR_HEAP = os.environ.get("PORTIER_DOOR_HEAP") or DOOR_HEAP
MEMPROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp", "memprobe.py")
ASSETS = os.path.join(paths.REPO, "bench", "assets")
DOOR_VOICE = os.path.join(ASSETS, "male-16k.wav")  # the visitor at the door
PHONE_VOICE = os.path.join(ASSETS, "female-16k.wav")  # the resident
_KEY_ATTRS = ("reason", "type", "duration", "result")
_STEP_TIMEOUT_S = 20
# Ringing -> answer: no one answers within a millisecond of the ring. The door fetches its media
# code while its call rings (portier.app App._prefetch_media); a scripted instant answer would
# time that import instead of the accept -> first audio path.
ANSWER_AFTER_S = 0.3


class SimError(Exception):
    """The simulation could not be run (a party did not start, a step timed out)."""


class Party:
    """What the simulator knows of one device: its log lines as they arrive, in host time."""

    def __init__(self, name, jid, t0):
        self.name = name
        self.jid = jid
        self.t0 = t0
        self.lines = []  # (host ms since t0, dict)
        self.changed = asyncio.Event()
        self.exited = False  # its process ended (a door that ran out of heap): stop waiting
        self.fatal = None  # a MemoryError it printed (a task died of it): stop waiting

    def record(self, d):
        self.lines.append(((time.monotonic() - self.t0) * 1000, d))
        self.changed.set()

    def find(self, pred):
        for t, d in self.lines:
            if pred(d):
                return t, d
        return None

    async def wait_for(self, pred, timeout_s=_STEP_TIMEOUT_S, what="event"):
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.find(pred)
            if found is not None:
                return found
            if self.exited or self.fatal:
                raise SimError("%s %s before %s" % (self.name, self.fatal or "exited", what))
            left = deadline - time.monotonic()
            if left <= 0:
                raise SimError("%s: no %s within %d s" % (self.name, what, timeout_s))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass


def _event(kind, **match):
    def pred(d):
        if d.get("src") != "engine" or d.get("kind") != kind:
            return False
        return all(d.get(k) == v for k, v in match.items())
    return pred


def _msg(src, msg):
    return lambda d: d.get("src") == src and d.get("msg") == msg


class DoorProcess:
    """The door: portier.app in a child process, driven by stdin commands, read by stdout lines."""

    def __init__(self, party, folder, runtime, fw_tree, heap, mem_log_ms=None):
        self.party = party
        self.mem_log_ms = mem_log_ms
        self.folder = folder
        self.runtime = runtime
        self.fw_tree = fw_tree
        self.heap = heap
        self.proc = None
        self._reader = None
        self.stderr = b""

    async def start(self):
        env = dict(os.environ, PORTIER_CONFIG=os.path.join(self.folder, SIM_CONFIG_NAME))
        if self.runtime == "micropython":
            env["MICROPYPATH"] = self.fw_tree + ":.frozen"
            entry = "main"
            if self.mem_log_ms:  # main.py's work plus heap samples (portier_host/mp/memprobe.py)
                env["PORTIER_MEM_LOG_MS"] = str(self.mem_log_ms)
                entry = "memprobe"
            cmd = [paths.micropython_exe(), "-X", "heapsize=" + self.heap, "-m", entry]
        else:
            code = ("import sys; sys.path[:0] = [%r, %r]; import mptime; mptime.install(); "
                    "import portier.app; portier.app.main()" % (paths.MPSHIM, paths.FIRMWARE))
            cmd = [sys.executable, "-c", code]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=self.folder, env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        self._reader = asyncio.ensure_future(self._read())
        self._err = asyncio.ensure_future(self.proc.stderr.read())

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                self.party.exited = True
                self.party.changed.set()
                return
            try:
                d = json.loads(line)
            except ValueError:
                d = {"src": "raw", "msg": line.decode(errors="replace").rstrip()}
            if b"MemoryError" in line:  # logged or printed: this door's heap is too small
                what = d.get("error") or d.get("msg") or ""
                self.party.fatal = "ran out of heap (%s%s)" % (
                    d["msg"] + ": " if d.get("error") and d.get("msg") else "", what[-100:])
            self.party.record(d)

    async def command(self, cmd):
        if self.proc.returncode is not None:
            raise SimError("door exited (%s): %s" % (self.proc.returncode, self.stderr_text()))
        self.proc.stdin.write(cmd.encode() + b"\n")
        await self.proc.stdin.drain()

    def stderr_text(self):
        return self.stderr.decode(errors="replace")[-2000:]

    async def stop(self):
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                await self.command("quit")
                await asyncio.wait_for(self.proc.wait(), 5)
            except (SimError, asyncio.TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()
        await self._reader
        self.stderr = await self._err


class ExternalDoor:
    """A door the simulator does not start: a provisioned (virtual) board running the firmware.

    device_dir: its bundle (`portier provision`); household_dir, db: the household folder and
    switchboard database it was provisioned into (the simulator's switchboard serves them on
    the bundle's port, and its phones join that household); port: the board's serial port,
    where its log lines are read; press(): presses its button (VirtualBoard.press_button);
    reset(): optional, a hard reset once the switchboard is up, so the door connects at once
    rather than on its reconnect backoff (VirtualBoard.hard_reset); pins: a virtual board's pin
    folder, whose mic.wav the simulator fills with the visitor's voice and whose speaker.wav it
    scores (portier.hal.vboardio), so the call's audio is measured both ways; None for a board
    whose microphone is not the simulator's (no audio scores then)."""

    def __init__(self, device_dir, household_dir, db, port, press, reset=None, pins=None):
        with open(os.path.join(device_dir, "portier.json")) as f:
            cfg = fwconfig.loads(f.read())
        self.store = cfg.e2e_store  # on the board, relative to its flash root
        self.paired_file = cfg.paired_file
        self.snapshot = None  # the board's store before the simulation (boardsnap.save)
        self.jid = cfg.jid
        self.household = cfg.household
        self.address = (cfg.host, cfg.port)
        self.household_dir = household_dir
        self.db = db
        self.port = port
        self.press = press
        self.reset = reset
        self.pins = pins


class ExternalDoorRunner:
    """Reads an external door's log lines from its serial port; its only command is "press"
    (the button): the rest of a door's commands are typed at no real board."""

    def __init__(self, party, door):
        self.party = party
        self.door = door
        self.stderr = b""
        self.problems = []  # what went wrong putting the door back (stop())
        self._stop = None
        self._thread = None

    async def start(self):
        import threading

        import serial

        from . import boardsnap

        loop = asyncio.get_running_loop()
        door = self.door
        try:  # before anything pairs with it (the reset below starts the door again)
            door.snapshot = await loop.run_in_executor(
                None, boardsnap.save, door.port, door.store, door.paired_file)
        except boardsnap.SnapError as e:
            raise SimError("cannot save the door's store before the simulation: %s" % e) from None
        ser = serial.Serial(self.door.port, 115200, timeout=0.1)
        self._stop = threading.Event()

        def read_lines():
            buf = b""
            try:
                while not self._stop.is_set():
                    buf += ser.read(4096)
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        d = _board_line(line)
                        if d is not None:
                            loop.call_soon_threadsafe(self.party.record, d)
            finally:
                ser.close()

        self._thread = threading.Thread(target=read_lines, name="sim-door-serial", daemon=True)
        self._thread.start()
        if self.door.reset is not None:
            await loop.run_in_executor(None, self.door.reset)

    async def command(self, cmd):
        if cmd != "press":
            raise SimError("an external door takes only \"press\" (its button), not %r" % cmd)
        await asyncio.get_running_loop().run_in_executor(None, self.door.press)

    def stderr_text(self):
        return ""

    def call_log(self):
        """The door's call log, as its "call log" lines announced each entry."""
        out = []
        for _, d in self.party.lines:
            if d.get("src") == "app" and d.get("msg") == "call log":
                out.append({"dir": d.get("direction"), "peer": d.get("peer"),
                            "outcome": d.get("outcome"), "reason": d.get("reason"),
                            "start": d.get("start"), "duration": d.get("duration")})
        return out

    async def stop(self):
        loop = asyncio.get_running_loop()
        if self._thread is not None:
            self._stop.set()
            await loop.run_in_executor(None, self._thread.join, 2)
            self._thread = None
        door = self.door
        if door.snapshot is None:
            return
        from . import boardsnap

        snapshot, door.snapshot = door.snapshot, None
        try:  # the simulated phones' pairings and sessions go; used prekeys come back
            await loop.run_in_executor(None, boardsnap.restore, door.port, door.store, snapshot,
                                       door.reset is None)
        except boardsnap.SnapError as e:
            self.problems.append("the door's store could not be put back (it may keep the "
                                 "simulated phones paired): %s" % e)
            return
        if door.reset is not None:
            await loop.run_in_executor(None, door.reset)


def _private_db(src, dst, household, door_jid):
    """A copy of the household's switchboard database at dst holding only the door: the
    simulator's switchboard serves it, so the household's own phones are neither rung nor
    changed, and the original is opened read-only."""
    import sqlite3

    if not os.path.exists(src):
        raise SimError("no switchboard database %s (give --db or --household-dir)" % src)
    from urllib.parse import quote

    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        orig = sqlite3.connect("file:%s?mode=ro" % quote(os.path.abspath(src)), uri=True)
        copy = sqlite3.connect(dst)
        try:
            orig.backup(copy)
            known = copy.execute("SELECT 1 FROM devices WHERE jid = ?", (door_jid,)).fetchone()
            copy.execute("DELETE FROM prekeys WHERE jid != ?", (door_jid,))
            copy.execute("DELETE FROM devices WHERE jid != ?", (door_jid,))
            copy.execute("DELETE FROM relay_legs")
            copy.commit()
        finally:
            orig.close()
            copy.close()
    except sqlite3.Error as e:
        raise SimError("switchboard database %s: %s" % (src, e)) from None
    if known is None:
        raise SimError("%s is not registered in %s: the door's bundle belongs to another "
                       "database (give --db)" % (door_jid, src))


def _board_line(raw):
    text = raw.decode(errors="replace").strip()
    if not text:
        return None
    start = text.find("{")
    if start >= 0:
        try:
            d = json.loads(text[start:])
            if isinstance(d, dict):
                return d
        except ValueError:
            pass
    return {"src": "raw", "msg": text}


class PhoneRunner:
    """A softphone: portier.app on CPython in this process, with its log lines captured."""

    def __init__(self, party, cfg):
        self.party = party
        self.app = App(cfg, PhoneHal(cfg.audio), log=self._log)
        self.task = None

    def _log(self, lvl, src, msg, fields):
        d = {"lvl": lvl, "src": src, "msg": msg}
        d.update(fields)
        self.party.record(d)

    def start(self):
        self.task = asyncio.ensure_future(self.app.run())

    async def command(self, cmd):
        await self.app.command(cmd)

    async def stop(self):
        if self.task is None:
            return
        await self.app.command("quit")
        try:
            await asyncio.wait_for(self.task, 5)
        except asyncio.TimeoutError:
            self.task.cancel()


SIM_CONFIG_NAME = "config.json"  # each party's, in its folder (the door's PORTIER_CONFIG)
SIM_PIN = "2468"  # the "unlock" scenario's household PIN


def _device_config(device, folder, sb_address, profile, ring_timeout_s, audio, extra=None):
    """A party's config, written to its folder by the bundle writer, as `portier provision`
    writes a phone's: its files under its folder, the simulator's switchboard."""
    keys = {"profile": profile, "paired_file": os.path.join(folder, "paired.json"),
            "ring_timeout_s": ring_timeout_s, "audio": audio, "control": "stdin"}
    keys.update(extra or {})
    try:
        cfg = bundle.device_config(device.jid, sb_address[0], sb_address[1], base=folder,
                                   server_name="localhost", **keys)
        bundle.write_config(folder, cfg, SIM_CONFIG_NAME)
    except bundle.BundleError as e:
        raise SimError(str(e)) from None
    return cfg


def _door_secrets(folder, pair_key, unlock):
    """The door's secrets.json as `portier provision` writes it: its pairing key (protocol
    8.5) and, for the unlock scenario, the PIN verifier (section 10), with its door log and a
    1 s strike pulse in the config."""
    doc = bundle.secrets_document(pin=SIM_PIN if unlock else "", pair_key=pair_key)
    extra = {"secrets": bundle.write_secrets(folder, doc)}
    if unlock:
        extra.update(door_log=os.path.join(folder, "door-log.json"), unlock={"pulse_s": 1})
    return extra


def _unlock_config(folder, pair_key=None):
    """The unlock scenario's door secrets and config (and its pairing key when given)."""
    return _door_secrets(folder, pair_key, True)


def pair_auth_config(authority, door_jid, device):
    """A provisioned device's config entry with the household's authorisation for door_jid."""
    return {"pair_auth": provision.pair_auth(authority, [door_jid], device.jid,
                                             device.bundle.identity_key)}


class Simulation:
    external = None  # an ExternalDoor (ExternalDoorSimulation), or None: the door is run here
    _household = HOUSEHOLD
    _phone_devs = ()

    def __init__(self, scenario, phones=1, ring_timeout_s=5, door_runtime="micropython",
                 workdir=None, talk_s=3.0, heap=DOOR_HEAP, mem_log_ms=None, door_audio=None,
                 door_voice=DOOR_VOICE, phone_voice=PHONE_VOICE):
        if scenario not in simreport.SCENARIOS:
            raise SimError("unknown scenario %r" % scenario)
        self.scenario = scenario
        self.n_phones = phones
        self.ring_timeout_s = ring_timeout_s
        self.door_runtime = door_runtime
        self.talk_s = talk_s
        self.heap = heap
        self.mem_log_ms = mem_log_ms
        # The door's acoustics, as its config names them (echo_control, echo_path, shared_bus:
        # hal/vdoor.py), and who talks: a voice of None is a silent microphone.
        self.door_audio = dict(door_audio or {})
        self.door_voice = door_voice
        self.phone_voice = phone_voice
        if mem_log_ms and door_runtime != "micropython":
            raise SimError("the heap log needs the door on MicroPython")
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="portier-sim-"))
        self.t0 = time.monotonic()
        self.trace = []
        self.timings = {}
        self.parties = {}
        self.door = None
        self.phones = []
        self.sb = None

    # ---- set-up ----

    def _trace(self, sender, receiver, node):
        names = dict((p.jid, name) for name, p in self.parties.items())
        action = node.tag
        kids = node.content if isinstance(node.content, list) else []
        inner = kids[0] if node.tag == "call" and kids else node
        if node.tag == "call" and kids:
            action = inner.tag
        detail = " ".join("%s=%s" % (k, inner.attrs[k]) for k in _KEY_ATTRS if k in inner.attrs)
        if node.tag == "call" and "call-id" in inner.attrs:
            detail = ("call=%s… " % inner.attrs["call-id"][:6]) + detail
        self.trace.append(((time.monotonic() - self.t0) * 1000, names.get(sender, sender),
                           names.get(receiver, receiver), action, detail.strip()))

    async def _provision_and_start(self):
        if self.external is not None:
            return await self._start_with_external_door()
        wd = self.workdir
        hh = provisioning.create_household(HOUSEHOLD, folder=os.path.join(wd, "household"))
        db = os.path.join(wd, "switchboard.db")
        provisioning.register_household(db, hh)
        door_dir = os.path.join(wd, "door")
        door_dev = provisioning.add_device(hh, "door", db=db, folder=door_dir)
        phone_devs = [provisioning.add_device(hh, "phone%d" % (i + 1), db=db,
                                              folder=os.path.join(wd, "phone%d" % (i + 1)))
                      for i in range(self.n_phones)]
        self.sb = Switchboard(db, ssl_context=hh.server_ssl_context(),
                              ring_timeout_s=self.ring_timeout_s, trace=self._trace)
        await self.sb.start()
        self.parties["door"] = Party("door", door_dev.jid, self.t0)
        extra = {"auto_answer": []}
        # The household's pairing authority: its secret in memory (`portier provision` keeps it
        # sealed in the household folder), its record of authorisations in that folder; the
        # door gets its key, each phone its authorisation.
        self.authority = Authority(os.urandom(32), os.path.join(wd, "household"))
        extra.update(_door_secrets(door_dir, self.authority.door_key(door_dev.jid),
                                   self.scenario == "unlock"))
        _device_config(door_dev, door_dir, self.sb.address, "door", self.ring_timeout_s,
                       dict({"mic": self.door_voice, "speaker": os.path.join(door_dir, "heard.wav"),
                             "realtime": True, "rate": 16000}, **self.door_audio), extra)
        fw_tree = None
        if self.door_runtime == "micropython":
            fw_tree = os.path.join(wd, "door-firmware")
            # The image a board of the host's architecture gets from `portier deploy`. A build
            # with the package frozen in runs its frozen copy (as `deploy --frozen` leaves a
            # board): the tree then holds only main.py and boot.py, which nothing shadows.
            errors = build.host_image(paths.FIRMWARE, fw_tree, frozen=build.has_frozen_portier())
            if self.mem_log_ms and not errors:
                err = build.compile_module(MEMPROBE, os.path.join(fw_tree, "memprobe.mpy"))
                errors = [err] if err else []
            if errors:
                raise SimError("firmware does not compile: %s" % errors[0])
        self.door = DoorProcess(self.parties["door"], door_dir, self.door_runtime, fw_tree, self.heap,
                                self.mem_log_ms)
        await self.door.start()
        self._phone_devs = phone_devs
        await self._start_phones(door_dev.jid)

    async def _start_with_external_door(self):
        ext = self.external
        try:
            hh = provisioning.load_household(ext.household_dir)
        except OSError as e:
            raise SimError("no household in %s: %s" % (ext.household_dir, e.strerror or e)) \
                from None
        self._household = hh.name
        db = os.path.join(self.workdir, "switchboard.db")
        _private_db(ext.db, db, hh.name, ext.jid)
        self._phone_devs = [provisioning.add_device(
            hh, "phone%d" % (i + 1), db=db, folder=os.path.join(self.workdir, "phone%d" % (i + 1)))
            for i in range(self.n_phones)]
        self.sb = Switchboard(db, ssl_context=hh.server_ssl_context(),
                              ring_timeout_s=self.ring_timeout_s, trace=self._trace)
        try:
            await self.sb.start(ext.address[0], ext.address[1])
        except OSError as e:
            await self.sb.close()
            self.sb = None
            raise SimError("cannot listen on %s:%d, the address the door dials (%s): stop the "
                           "household's switchboard for the simulation"
                           % (ext.address[0], ext.address[1], e.strerror or e)) from None
        if ext.pins is not None:
            self._voice_into_pins(ext.pins)
        self.parties["door"] = Party("door", ext.jid, self.t0)
        self.door = ExternalDoorRunner(self.parties["door"], ext)
        await self.door.start()
        await self._start_phones(ext.jid)

    def _voice_into_pins(self, pins):
        """The visitor's voice into a virtual board's microphone and a fresh recording of its
        speaker, before the door's first call (portier.hal.vboardio)."""
        from . import audiofiles, vboard

        try:
            vboard.set_mic(pins, self.door_voice)
        except (OSError, audiofiles.AudioFileError) as e:
            raise SimError("door pins %s: %s" % (pins, getattr(e, "strerror", None) or e)) \
                from None
        try:
            os.remove(os.path.join(pins, "speaker.wav"))
        except FileNotFoundError:
            pass  # no recording yet

    async def _start_phones(self, door_jid):
        if self.external is not None:  # the household's own authority (its passphrase)
            try:
                self.authority = provision.open_authority(self.external.household_dir,
                                                          create=False)
            except provision.ProvisionError as e:
                raise SimError("phones cannot be authorised to pair: %s" % e) from None
        wd = self.workdir
        for i, dev in enumerate(self._phone_devs):
            name = "phone%d" % (i + 1)
            folder = os.path.join(wd, name)
            d = _device_config(dev, folder, self.sb.address, "phone", self.ring_timeout_s,
                               {"mic": self.phone_voice, "speaker": os.path.join(folder, "heard.wav"),
                                "realtime": True, "rate": 16000},
                               {"pair_with": [door_jid], "call": door_jid,
                                "control": "none",  # driven in-process, not by stdin
                                **pair_auth_config(self.authority, door_jid, dev)})
            self.parties[name] = Party(name, dev.jid, self.t0)
            runner = PhoneRunner(self.parties[name], fwconfig.check(d))
            self.phones.append(runner)
            runner.start()
        door = self.parties["door"]
        await door.wait_for(_msg("link", "ready"), what="link ready")
        for runner in self.phones:
            jid = runner.party.jid
            await door.wait_for(lambda d, j=jid: d.get("msg") == "paired" and d.get("device") == j,
                                what="pairing with %s" % jid)

    # ---- scenarios ----

    async def _ring(self):
        door = self.parties["door"]
        t_press = (time.monotonic() - self.t0) * 1000
        await self.door.command("press")
        times = []
        for runner in self.phones:
            t, _ = await runner.party.wait_for(_event("ringing", direction="in"), what="ringing")
            times.append(t)
        self.timings["button -> all phones ringing"] = max(times) - t_press
        await door.wait_for(_event("ringing", direction="out"), what="ringing at the door")

    async def _talk_then_hang_up(self, answering, hanging_up):
        await asyncio.sleep(ANSWER_AFTER_S)
        t_accept = (time.monotonic() - self.t0) * 1000
        await answering.command("answer")
        firsts = []
        for party in (self.parties["door"], self.phones[0].party):
            t, _ = await party.wait_for(_msg("media", "first audio"), what="first audio")
            firsts.append(t)
        self.timings["accept -> first audio"] = max(firsts) - t_accept
        await asyncio.sleep(self.talk_s)
        await hanging_up.command("hangup")

    async def _answer_and_unlock(self, phone):
        """Answer, then open the door with the PIN during the call (protocol section 10)."""
        door = self.parties["door"]
        await phone.command("answer")
        for party in (door, phone.party):
            await party.wait_for(_msg("media", "first audio"), what="first audio")
        t_unlock = (time.monotonic() - self.t0) * 1000
        await phone.app.command("unlock", [SIM_PIN])
        t, _ = await door.wait_for(lambda d: d.get("msg") == "relay" and d.get("energised") is True,
                                   what="the strike energised")
        self.timings["unlock -> strike energised"] = t - t_unlock
        await phone.party.wait_for(lambda d: d.get("msg") == "unlock result"
                                   and d.get("result") == "opened", what="unlock result opened")
        await door.wait_for(lambda d: d.get("msg") == "relay" and d.get("energised") is False,
                            what="the strike released")
        await asyncio.sleep(self.talk_s)
        await phone.command("hangup")

    async def _play(self):
        phone = self.phones[0]
        if self.scenario == "answered":
            await self._ring()
            await self._talk_then_hang_up(phone, phone)
        elif self.scenario == "rejected":
            await self._ring()
            await phone.command("reject")
        elif self.scenario == "busy":
            await self._ring()
            for runner in self.phones:
                await runner.command("busy")
        elif self.scenario == "missed":
            await self._ring()  # and nobody answers
        elif self.scenario == "cancelled":
            await self._ring()
            await self.door.command("hangup")
        elif self.scenario == "unlock":
            await self._ring()
            await self._answer_and_unlock(phone)
        elif self.scenario == "incoming":
            t_call = (time.monotonic() - self.t0) * 1000
            await phone.command("call")
            t, _ = await self.parties["door"].wait_for(_event("ringing", direction="in"),
                                                        what="ringing at the door")
            self.timings["call -> door ringing"] = t - t_call
            await self._talk_then_hang_up(self.door, phone)
        timeout = self.ring_timeout_s + _STEP_TIMEOUT_S
        involved = ["door"] + [r.party.name for r in self.phones]
        if self.scenario == "incoming":
            involved = ["door", self.phones[0].party.name]
        for name in involved:
            await self.parties[name].wait_for(_event("ended"), timeout_s=timeout, what="call end")
        await asyncio.sleep(0.3)  # the last log writes and media stops

    # ---- results ----

    def _logs(self):
        logs = {}
        for name in ["door"] + [r.party.name for r in self.phones]:
            if name == "door" and self.external is not None:
                logs[name] = self.door.call_log() if self.door is not None else []
                continue
            path = os.path.join(self.workdir, name, "calls.json")
            try:
                with open(path) as f:
                    logs[name] = json.load(f)["calls"]
            except FileNotFoundError:
                logs[name] = []
        return logs

    def _media(self):
        media = {}
        for name, party in self.parties.items():
            found = party.find(_msg("app", "media stop"))
            if found is not None:
                media[name] = dict((k, v) for k, v in found[1].items()
                                   if k not in ("lvl", "src", "msg", "t"))
        return media

    def _quality(self):
        if self.scenario not in simreport.MEDIA_SCENARIOS or "door" not in self.parties:
            return {}  # no call was placed
        door_heard = os.path.join(self.workdir, "door", "heard.wav")
        if self.external is not None:
            if self.external.pins is None:
                return {}  # a real board's microphone is not the simulator's recording
            door_heard = os.path.join(self.external.pins, "speaker.wav")
        from . import audioquality

        pairs = {"door -> phone1": (self.door_voice, os.path.join(self.workdir, "phone1", "heard.wav")),
                 "phone1 -> door": (self.phone_voice, door_heard)}
        media = self.parties["door"].find(_event("media"))
        codec = media[1].get("codec", "") if media else ""
        # A G.711 call carries narrowband audio: score it as such (PESQ P.862 narrowband).
        band = "nb" if codec.endswith("/8000") else "wb"
        out = {}
        for direction, (sent, heard) in pairs.items():
            if sent is None:
                continue  # a silent microphone: nothing to score
            try:
                q = dict(audioquality.compare_files(sent, heard, band=band), codec=codec)
            except (OSError, ValueError) as e:
                out[direction] = {"error": str(e)}
                continue
            out[direction] = dict((k, round(v, 2) if isinstance(v, float) else v)
                                  for k, v in sorted(q.items()))
        return out

    async def run(self):
        problems = []
        try:
            await self._provision_and_start()
            await self._play()
        except SimError as e:
            problems.append(str(e))
        finally:
            for runner in self.phones:
                await runner.stop()
            if self.door is not None:
                await self.door.stop()
            if self.sb is not None:
                await self.sb.close()
        problems += getattr(self.door, "problems", [])
        logs = self._logs()
        media = self._media()
        problems = problems + simreport.check(self.scenario, logs, media)
        if problems and self.door is not None and self.door.stderr:
            problems.append("door stderr: " + self.door.stderr_text())
        return {
            "scenario": self.scenario, "door_runtime": "external" if self.external else self.door_runtime,
            "phones": [r.party.name for r in self.phones], "workdir": self.workdir,
            "trace": self.trace, "logs": logs, "media": media, "quality": self._quality(),
            "timings": self.timings, "problems": problems, "door_heap": self.heap,
            "memory": [dict(d, host_ms=round(t, 1)) for t, d in self.parties["door"].lines
                       if d.get("src") == "mem"] if "door" in self.parties else [],
            "wav": {"door heard": os.path.join(self.workdir, "door", "heard.wav"),
                    "phone1 heard": os.path.join(self.workdir, "phone1", "heard.wav")},
        }


class ExternalDoorSimulation(Simulation):
    """A scenario against an ExternalDoor (a provisioned board): only its button is pressed,
    so the scenarios that need no other door command (answered, rejected, busy, missed)."""

    def __init__(self, scenario, door, phones=1, ring_timeout_s=5, workdir=None, talk_s=3.0):
        Simulation.__init__(self, scenario, phones, ring_timeout_s, "micropython", workdir, talk_s)
        self.external = door


def main_external(args):
    """`portier sim --door-device DIR --door-port P --door-pins DIR`: the scenario against a
    running `portier vboard` with that bundle deployed; its button and reset are its pins."""
    from . import vboard

    if not (args.door_port and args.door_pins):
        print("sim: --door-device needs --door-port and --door-pins (from `portier vboard`)",
              file=sys.stderr)
        return 2
    try:
        with open(os.path.join(args.door_device, "portier.json")) as f:
            household = fwconfig.loads(f.read()).household
    except (OSError, fwconfig.ConfigError) as e:
        print("sim: no door bundle in %s: %s" % (args.door_device, e), file=sys.stderr)
        return 2
    household_dir = args.household_dir or os.path.join("households", household)
    db = args.db or os.path.join(household_dir, "switchboard.db")
    pins = args.door_pins
    door = ExternalDoor(args.door_device, household_dir, db, args.door_port,
                        lambda: vboard.press_button(pins), lambda: vboard.request_reset(pins),
                        pins)
    try:
        simulation = ExternalDoorSimulation(args.scenario, door, args.phones, args.ring_timeout,
                                            args.out, args.talk)
    except SimError as e:
        print("sim: %s" % e, file=sys.stderr)
        return 2
    result = asyncio.run(simulation.run())
    print(simreport.render_json(result) if args.json else simreport.render_text(result))
    if args.out is None and not result["problems"]:
        shutil.rmtree(result["workdir"], ignore_errors=True)
    return 1 if result["problems"] else 0


def run(scenario, phones=1, ring_timeout_s=5, door_runtime="micropython", workdir=None,
        talk_s=3.0, heap=DOOR_HEAP, mem_log_ms=None):
    sim = Simulation(scenario, phones, ring_timeout_s, door_runtime, workdir, talk_s, heap,
                     mem_log_ms)
    return asyncio.run(sim.run())


def main(args):
    try:
        result = run(args.scenario, args.phones, args.ring_timeout, args.door_runtime, args.out,
                     args.talk, getattr(args, "door_heap", DOOR_HEAP),
                     getattr(args, "mem_log", None))
    except SimError as e:  # refused before anything started
        print("portier sim: %s" % e, file=sys.stderr)
        return 2
    if args.json:
        print(simreport.render_json(result))
    else:
        print(simreport.render_text(result))
    if args.out is None and not result["problems"]:
        shutil.rmtree(result["workdir"], ignore_errors=True)
    return 1 if result["problems"] else 0
