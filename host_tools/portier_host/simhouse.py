"""The simulator's household (portier sim): provisioned as `portier provision` provisions one
(portier_host.provisioning; configs and secrets by the bundle writer), its switchboard with the
in-process media relay, the door as the real firmware (from the image `portier deploy` gives a
board of the host's architecture) or an external board that joins, and the phones, paired with
the door before anything is played. The bridge lab (bridge/lab.py) builds its household from
the same parts."""

import os
import tempfile
import time

from . import build, bundle, paths, provision, provisioning
from .authority import Authority
from .simproc import (CONFIG_NAME, DoorProcess, ExternalDoorRunner, Party, PhoneRunner,
                      SimError, logged)
from .switchboard import Switchboard

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402

HOUSEHOLD = "home"
DOOR_HEAP = "384k"
# A heap probe (bench/heapprobe.py) searches the smallest door heap through this variable.
DOOR_HEAP = os.environ.get("PORTIER_DOOR_HEAP") or DOOR_HEAP
MEMPROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp", "memprobe.py")
ASSETS = os.path.join(paths.REPO, "bench", "assets")
DOOR_VOICE = os.path.join(ASSETS, "male-16k.wav")  # the visitor at the door
PHONE_VOICE = os.path.join(ASSETS, "female-16k.wav")  # the resident
SIM_PIN = "2468"  # the "unlock" scenario's household PIN
_KEY_ATTRS = ("reason", "type", "duration", "result")


def device_config(device, folder, sb_address, profile, ring_timeout_s, audio, extra=None):
    """A party's config, written to its folder by the bundle writer, as `portier provision`
    writes a phone's: its files under its folder, the simulator's switchboard."""
    keys = {"profile": profile, "paired_file": os.path.join(folder, "paired.json"),
            "ring_timeout_s": ring_timeout_s, "audio": audio, "control": "stdin"}
    keys.update(extra or {})
    try:
        cfg = bundle.device_config(device.jid, sb_address[0], sb_address[1], base=folder,
                                   server_name="localhost", **keys)
        bundle.write_config(folder, cfg, CONFIG_NAME)
    except bundle.BundleError as e:
        raise SimError(str(e)) from None
    return cfg


def door_secrets(folder, pair_key, unlock):
    """The door's secrets.json as `portier provision` writes it: its pairing key (protocol
    8.5) and, with unlock, the PIN verifier (section 10), with its door log and a 1 s strike
    pulse in the config; returns those config entries."""
    doc = bundle.secrets_document(pin=SIM_PIN if unlock else "", pair_key=pair_key)
    extra = {"secrets": bundle.write_secrets(folder, doc)}
    if unlock:
        extra.update(door_log=os.path.join(folder, "door-log.json"), unlock={"pulse_s": 1})
    return extra


def pair_auth_config(authority, door_jid, device):
    """A provisioned device's config entry with the household's authorisation for door_jid."""
    return {"pair_auth": provision.pair_auth(authority, [door_jid], device.jid,
                                             device.bundle.identity_key)}


def new_household(workdir, names):
    """A household made in workdir/household, registered in workdir/switchboard.db, with a
    device provisioned in workdir/NAME for each of names; -> (household, db, [Device])."""
    hh = provisioning.create_household(HOUSEHOLD, folder=os.path.join(workdir, "household"))
    db = os.path.join(workdir, "switchboard.db")
    provisioning.register_household(db, hh)
    devs = [provisioning.add_device(hh, n, db=db, folder=os.path.join(workdir, n)) for n in names]
    return hh, db, devs


def write_door_config(dev, sb_address, ring_timeout_s, pair_key, unlock=False,
                      voice=DOOR_VOICE, audio=None):
    """The door's config and secrets in its folder: the voice of its visitor (None: silence),
    what it hears into heard.wav, audio: its acoustics (echo_control, ...: hal/vdoor.py)."""
    extra = {"auto_answer": []}
    extra.update(door_secrets(dev.folder, pair_key, unlock))
    sound = {"mic": voice, "speaker": os.path.join(dev.folder, "heard.wav"), "realtime": True,
             "rate": 16000}
    device_config(dev, dev.folder, sb_address, "door", ring_timeout_s,
                  dict(sound, **(audio or {})), extra)


def door_firmware(workdir, memprobe=False):
    """The door's firmware tree in workdir: the image a board of the host's architecture gets
    from `portier deploy`. A build with the package frozen in runs its frozen copy (as
    `deploy --frozen` leaves a board): the tree then holds only main.py and boot.py, which
    nothing shadows. memprobe: with main.py's heap-sampling twin."""
    tree = os.path.join(workdir, "door-firmware")
    errors = build.host_image(paths.FIRMWARE, tree, frozen=build.has_frozen_portier())
    if memprobe and not errors:
        err = build.compile_module(MEMPROBE, os.path.join(tree, "memprobe.mpy"))
        errors = [err] if err else []
    if errors:
        raise SimError("firmware does not compile: %s" % errors[0])
    return tree


def start_phone(party, dev, folder, sb_address, ring_timeout_s, authority, door_jid,
                voice=PHONE_VOICE):
    """A paired-to-be softphone of the household, running: its config (it pairs with and calls
    door_jid, authorised by the household's authority) and its PhoneRunner, driven in-process.
    voice: its microphone (None: silence); what it hears goes to folder/heard.wav."""
    cfg = device_config(dev, folder, sb_address, "phone", ring_timeout_s,
                        {"mic": voice, "speaker": os.path.join(folder, "heard.wav"),
                         "realtime": True, "rate": 16000},
                        {"pair_with": [door_jid], "call": door_jid,
                         "control": "none",  # driven in-process, not by stdin
                         **pair_auth_config(authority, door_jid, dev)})
    runner = PhoneRunner(party, fwconfig.check(cfg))
    runner.start()
    return runner


async def wait_paired(door, jids):
    """Until the door's link is up and it has paired with every one of jids."""
    await door.wait_for(logged("link", "ready"), what="link ready")
    for jid in jids:
        await door.wait_for(lambda d, j=jid: d.get("msg") == "paired" and d.get("device") == j,
                            what="pairing with %s" % jid)


def private_db(src, dst, household, door_jid):
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


class Household:
    """A household on loopback, set up by start_household(): the door (run here, or
    self.external: an ExternalDoor), the phones, paired, and the switchboard, whose routed
    stanzas go to self.trace; stop_household() ends them all. unlock: the door has the
    household PIN (SIM_PIN)."""

    external = None  # an ExternalDoor, or None: the door is run here

    def __init__(self, phones=1, ring_timeout_s=5, door_runtime="micropython", workdir=None,
                 heap=DOOR_HEAP, mem_log_ms=None, door_audio=None, door_voice=DOOR_VOICE,
                 phone_voice=PHONE_VOICE, unlock=False):
        self.n_phones = phones
        self.ring_timeout_s = ring_timeout_s
        self.door_runtime = door_runtime
        self.heap = heap
        self.mem_log_ms = mem_log_ms
        self.unlock = unlock
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
        self.parties = {}
        self.door = None
        self.phones = []
        self.sb = None
        self.authority = None

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

    async def start_household(self):
        if self.external is not None:
            return await self._start_with_external_door()
        wd = self.workdir
        phone_names = ["phone%d" % (i + 1) for i in range(self.n_phones)]
        hh, db, devs = new_household(wd, ["door"] + phone_names)
        door_dev = devs[0]
        self.sb = Switchboard(db, ssl_context=hh.server_ssl_context(),
                              ring_timeout_s=self.ring_timeout_s, trace=self._trace)
        await self.sb.start()
        self.parties["door"] = Party("door", door_dev.jid, self.t0)
        # The household's pairing authority: its secret in memory (`portier provision` keeps it
        # sealed in the household folder), its record of authorisations in that folder; the
        # door gets its key, each phone its authorisation.
        self.authority = Authority(os.urandom(32), os.path.join(wd, "household"))
        write_door_config(door_dev, self.sb.address, self.ring_timeout_s,
                          self.authority.door_key(door_dev.jid), self.unlock, self.door_voice,
                          self.door_audio)
        fw_tree = None
        if self.door_runtime == "micropython":
            fw_tree = door_firmware(wd, memprobe=bool(self.mem_log_ms))
        self.door = DoorProcess(self.parties["door"], door_dev.folder, self.door_runtime,
                                fw_tree, self.heap, self.mem_log_ms)
        await self.door.start()
        await self._start_phones(devs[1:], door_dev.jid)

    async def _start_with_external_door(self):
        ext = self.external
        try:
            hh = provisioning.load_household(ext.household_dir)
        except OSError as e:
            raise SimError("no household in %s: %s" % (ext.household_dir, e.strerror or e)) \
                from None
        db = os.path.join(self.workdir, "switchboard.db")
        private_db(ext.db, db, hh.name, ext.jid)
        phone_devs = [provisioning.add_device(
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
        try:  # the household's own authority (its passphrase)
            self.authority = provision.open_authority(ext.household_dir, create=False)
        except provision.ProvisionError as e:
            raise SimError("phones cannot be authorised to pair: %s" % e) from None
        await self._start_phones(phone_devs, ext.jid)

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

    async def _start_phones(self, devs, door_jid):
        for i, dev in enumerate(devs):
            name = "phone%d" % (i + 1)
            self.parties[name] = Party(name, dev.jid, self.t0)
            self.phones.append(start_phone(self.parties[name], dev,
                                           os.path.join(self.workdir, name), self.sb.address,
                                           self.ring_timeout_s, self.authority, door_jid,
                                           self.phone_voice))
        await wait_paired(self.parties["door"], [r.party.jid for r in self.phones])

    async def stop_household(self):
        """Every phone, the door and the switchboard stopped, in that order."""
        for runner in self.phones:
            await runner.stop()
        if self.door is not None:
            await self.door.stop()
        if self.sb is not None:
            await self.sb.close()
