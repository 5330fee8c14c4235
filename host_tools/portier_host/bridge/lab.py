"""Real SIP software from Debian's packages on loopback, for the bridge's tests and benchmark:
Kamailio as the household's registrar/proxy and baresip as the resident's phone. Each runs in
a folder of its own with a configuration written here, on ports picked free on 127.0.0.1, and
is stopped by stop().

    kam = Kamailio(folder); kam.start()                  sip:USER@127.0.0.1:kam.port
    phone = Baresip(folder, "anna", kam.uri(), mic_wav)  auto-answers, records what it hears
    await phone.start(); await phone.wait_event("REGISTER_OK")
    await phone.command("sndcode", "*2468#")             RFC 4733 digits (baresip's default)

baresip is driven through its ctrl_tcp module (JSON in netstrings): commands go out, call and
registration events come back. What it hears is written by its sndfile module
(dump-*-dec.wav, the decoded audio, 8 kHz for G.711); what it says is a WAV file played by
its aufile module.
"""

import asyncio
import glob
import json
import os
import shutil
import socket
import subprocess
import time

from .registrar import KAMAILIO, Kamailio, LabError, free_port, stop_process  # noqa: F401

BARESIP = "baresip"
_MODULES = "/usr/lib/baresip/modules"
_START_S = 10


def missing(*exes):
    """The executables of `exes` that are not installed (a test skips naming them)."""
    return [e for e in exes if shutil.which(e) is None]


def looped_wav(src, dst, times):
    """src played `times` over, as dst: baresip's aufile ends the call at the file's end."""
    import wave

    with wave.open(src, "rb") as r:
        params = r.getparams()
        frames = r.readframes(r.getnframes())
    with wave.open(dst, "wb") as w:
        w.setparams(params)
        w.writeframes(frames * times)
    return dst


class Baresip:
    """baresip as the resident's SIP phone: account `user` at `registrar` (a sip: URI without
    user), auto-answering after answer_delay_ms (None: rings until told to answer), playing
    mic_wav (8 kHz mono 16-bit) and recording what it hears into folder/dump-*-dec.wav.

    srtp: None (plain RTP), "srtp" (SDES offered, RTP/AVP with crypto lines, the common
    opportunistic offer) or "srtp-mand" (RTP/SAVP only)."""

    def __init__(self, folder, user, registrar, mic_wav, password=None, answer=True,
                 srtp=None, codecs=("PCMU",)):
        self.folder = folder
        self.user = user
        self.registrar = registrar
        self.mic_wav = mic_wav
        self.password = password
        self.answer = answer
        self.srtp = srtp
        self.codecs = codecs
        self.sip_port = free_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        self.proc = None
        self.events = []
        self._changed = None
        self._reader = None
        self._writer = None
        self._responses = {}
        self._token = 0
        self._task = None

    def aor(self):
        host = self.registrar.split(":", 1)[1]
        return "sip:%s@%s" % (self.user, host)

    def _write_config(self):
        os.makedirs(self.folder, exist_ok=True)
        modules = ["g711.so", "aufile.so", "sndfile.so", "menu.so", "ctrl_tcp.so"]
        if any(c.startswith("G722") for c in self.codecs):
            modules.append("g722.so")
        if self.srtp:
            modules.append("srtp.so")
        modules.append("account.so")  # last: an account's mediaenc names a loaded module
        cfg = [
            "poll_method epoll",
            "sip_listen 127.0.0.1:%d" % self.sip_port,
            "sip_trans_def udp",
            "call_local_timeout 120",
            "audio_path %s" % self.folder,
            "audio_player aufile,%s" % os.path.join(self.folder, "unused.wav"),
            "audio_source aufile,%s" % self.mic_wav,
            "audio_alert aufile,%s" % os.path.join(self.folder, "unused.wav"),
            "ausrc_srate 8000",
            "auplay_srate 8000",
            "ausrc_channels 1",
            "auplay_channels 1",
            "audio_buffer 20-160",
            "rtp_timeout 0",
            "jitter_buffer_delay 1-10",
            "dns_server 127.0.0.1:53",
            "net_interface 127.0.0.1",
            "module_path %s" % _MODULES,
            "snd_path %s" % self.folder,
            "ctrl_tcp_listen 127.0.0.1:%d" % self.ctrl_port,
            "ringback_disabled yes",
        ] + ["module %s" % m for m in modules]
        with open(os.path.join(self.folder, "config"), "w") as f:
            f.write("\n".join(cfg) + "\n")
        params = ["answermode=%s" % ("auto" if self.answer else "manual"),
                  "audio_codecs=%s" % ",".join(self.codecs), "regint=600", "ptime=20"]
        if self.password:
            params.append("auth_pass=%s" % self.password)
        if self.srtp:
            params.append("mediaenc=%s" % self.srtp)
        with open(os.path.join(self.folder, "accounts"), "w") as f:
            f.write("<%s>;%s\n" % (self.aor(), ";".join(params)))
        for name in ("contacts", "uuid"):
            open(os.path.join(self.folder, name), "a").close()

    async def start(self):
        self._write_config()
        self._changed = asyncio.Event()
        log = open(os.path.join(self.folder, "baresip.log"), "wb")
        self.proc = subprocess.Popen([BARESIP, "-f", self.folder], cwd=self.folder,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + _START_S
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1",
                                                                           self.ctrl_port)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise LabError("baresip did not start: %s" % self.log_tail()) from None
                await asyncio.sleep(0.05)
        self._task = asyncio.ensure_future(self._read())

    def log_tail(self, n=3000):
        """The end of baresip's log, without its once-a-second call status lines
        ("[0:00:09] audio=64000/64000 (bit/s)"), which otherwise fill a failing test's message."""
        try:
            with open(os.path.join(self.folder, "baresip.log"), errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        lines = [ln for ln in text.replace("\r", "\n").split("\n")
                 if ln.strip() and "audio=" not in ln]
        return "\n".join(lines)[-n:]

    async def _read(self):
        r = self._reader
        try:
            while True:
                head = await r.readuntil(b":")
                n = int(head[:-1])
                body = await r.readexactly(n + 1)  # the netstring's trailing comma
                msg = json.loads(body[:-1])
                if msg.get("response"):
                    self._responses[msg.get("token")] = msg
                else:
                    msg["t"] = time.monotonic()
                    self.events.append(msg)
                self._changed.set()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            self._changed.set()

    async def command(self, cmd, params="", timeout_s=5):
        """Run one baresip command (menu module: dial, hangup, accept, sndcode, ...); returns
        its response's data text."""
        self._token += 1
        token = str(self._token)
        body = json.dumps({"command": cmd, "params": params, "token": token}).encode()
        self._writer.write(b"%d:%s," % (len(body), body))
        await self._writer.drain()
        deadline = time.monotonic() + timeout_s
        while token not in self._responses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError("baresip: no response to %s" % cmd)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        return self._responses.pop(token).get("data", "")

    async def wait_event(self, kind, timeout_s=15, since=0):
        """The first event of type `kind` at index >= since; (index, event)."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i in range(since, len(self.events)):
                if self.events[i].get("type") == kind:
                    return i, self.events[i]
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise LabError("baresip %s: no %s event (got %s); log: %s" % (
                    self.user, kind, [e.get("type") for e in self.events], self.log_tail()))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_registered(self, timeout_s=10):
        """Until the registrar has this phone's binding (reginfo says OK); the REGISTER_OK
        event may come before ctrl_tcp is connected, so the state is asked for."""
        deadline = time.monotonic() + timeout_s
        while "OK" not in await self.command("reginfo"):
            if time.monotonic() > deadline:
                raise LabError("baresip %s did not register: %s" % (self.user, self.log_tail()))
            await asyncio.sleep(0.1)

    def types(self):
        return [e.get("type") for e in self.events]

    def recordings(self):
        """The WAV files sndfile wrote of what this phone heard (decoded), oldest first."""
        return sorted(glob.glob(os.path.join(self.folder, "dump-*-dec.wav")),
                      key=os.path.getmtime)

    async def stop(self):
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
        stop_process(self.proc)
        self.proc = None


# ---- a household with a bridge: the door (real firmware), the switchboard, the bridge, a
# softphone, Kamailio and the resident's baresip phone, all on loopback ----

PIN = "2468"  # the door's unlock PIN here (portier_host.simhouse.SIM_PIN)
ANNA_PASSWORD = "anna-pass-1234"


def _bridge_process_class():
    from ..simproc import DoorProcess

    class BridgeProcess(DoorProcess):
        """`portier bridge --config FILE` in a child process; its JSON log lines go to a
        Party (read as the simulator reads the door's)."""

        def __init__(self, party, config_path, folder):
            DoorProcess.__init__(self, party, folder, "cpython", None, None)
            self.config_path = config_path

        async def start(self):
            import sys

            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "portier_host.cli", "bridge", "--config",
                self.config_path, cwd=self.folder, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            self._reader = asyncio.ensure_future(self._read())
            self._err = asyncio.ensure_future(self.proc.stderr.read())

        async def stop(self):
            if self.proc is None:
                return
            if self.proc.returncode is None:
                self.proc.terminate()  # SIGTERM: the bridge ends its SIP legs, unregisters
                try:
                    await asyncio.wait_for(self.proc.wait(), 8)
                except asyncio.TimeoutError:
                    self.proc.kill()
                    await self.proc.wait()
            await self._reader
            self.stderr = await self._err

    return BridgeProcess


def sip_event(kind, **match):
    """A predicate for the bridge's "sip" log lines."""
    def pred(d):
        return d.get("src") == "sip" and d.get("msg") == kind and \
            all(d.get(k) == v for k, v in match.items())
    return pred


class BridgeLab:
    """Everything a bridge test needs, started by start() and ended by stop():

    door     the real firmware app (MicroPython by default), unlock PIN PIN, its log lines
             in parties["door"]; mic: bench/assets/male-16k.wav, what it hears: door/heard.wav
    phoneN   softphones (portier.app on CPython, in this process), parties["phoneN"]
    bridge   `portier bridge` in a child process, sip:door@... (bridge_aor)
    anna     baresip, the resident's SIP phone, saying bench/assets/female-8k.wav and
             recording what it hears; registered as sip:anna@...
    mode "client": kam, a Kamailio, is the household's PBX; bridge and anna register there
    and anna is the bridge's target. mode "registrar": the bridge runs the registrar and
    anna registers with the bridge itself (password ANNA_PASSWORD).
    """

    def __init__(self, workdir, ring_timeout_s=8, door_runtime="micropython", phones=1,
                 anna_answers=True, srtp=None, bridge_srtp="optional", mode="client",
                 anna_codecs=("PCMU",)):
        self.workdir = workdir
        self.ring_timeout_s = ring_timeout_s
        self.door_runtime = door_runtime
        self.n_phones = phones
        self.anna_answers = anna_answers
        self.srtp = srtp
        self.bridge_srtp = bridge_srtp
        self.mode = mode
        self.anna_codecs = anna_codecs
        self.t0 = time.monotonic()
        self.parties = {}
        self.phones = []
        self.door = self.bridge = self.sb = self.kam = self.anna = None
        self.sip_port = free_port()
        self.registrar = None  # the sip: URI of the registrar anna and the bridge use
        self.bridge_aor = None

    def _bridge_config(self, dev, folder):
        from .. import bundle, simhouse

        cfg = simhouse.device_config(
            dev, folder, self.sb.address, "phone", self.ring_timeout_s, {},
            {"pair_with": [self.door_jid], "call": self.door_jid, "control": "none",
             **simhouse.pair_auth_config(self.authority, self.door_jid, dev)})
        sip = {"mode": self.mode, "bind": "127.0.0.1", "port": self.sip_port,
               "rtp_port": free_port(), "user": "door", "srtp": self.bridge_srtp,
               "codecs": ["PCMU", "PCMA", "G722"]}
        if self.mode == "client":
            sip["registrar"] = self.registrar
            sip["targets"] = ["sip:anna@%s" % self.registrar.split(":", 1)[1]]
        else:
            sip["phones"] = {"anna": ANNA_PASSWORD}
        return bundle.write_config(folder, cfg, "bridge.json", extra={"sip": sip})

    async def restart_anna(self):
        """A fresh baresip for anna (same account and folder): its WAV then starts from the
        beginning again, as a measurement against that WAV needs."""
        await self.anna.stop()
        await self._start_anna()

    async def _start_anna(self):
        from ..simhouse import ASSETS

        wd = self.workdir
        self.anna = Baresip(os.path.join(wd, "anna"), "anna", self.registrar,
                            looped_wav(os.path.join(ASSETS, "female-8k.wav"),
                                       os.path.join(wd, "anna-says.wav"), 3),
                            password=ANNA_PASSWORD if self.mode == "registrar" else None,
                            answer=self.anna_answers, srtp=self.srtp, codecs=self.anna_codecs)
        await self.anna.start()
        await self.anna.wait_registered()

    async def start(self):
        from .. import simhouse
        from ..authority import Authority
        from ..simproc import DoorProcess, Party, SimError
        from ..switchboard import Switchboard

        wd = self.workdir
        phone_names = ["phone%d" % (i + 1) for i in range(self.n_phones)]
        hh, db, devs = simhouse.new_household(wd, ["door", "bridge"] + phone_names)
        door_dev, bridge_dev, phone_devs = devs[0], devs[1], devs[2:]
        self.door_jid = door_dev.jid
        self.sb = Switchboard(db, ssl_context=hh.server_ssl_context(),
                              ring_timeout_s=self.ring_timeout_s)
        await self.sb.start()
        if self.mode == "client":
            self.kam = Kamailio(os.path.join(wd, "kamailio"))
            self.kam.start()
            self.registrar = self.kam.uri()
            await self._start_anna()
        else:
            self.registrar = "sip:127.0.0.1:%d" % self.sip_port
        self.bridge_aor = "sip:door@%s" % self.registrar.split(":", 1)[1]

        self.parties["door"] = Party("door", door_dev.jid, self.t0)
        self.authority = Authority.new()  # the household's pairing authority (8.5)
        simhouse.write_door_config(door_dev, self.sb.address, self.ring_timeout_s,
                                   self.authority.door_key(door_dev.jid), unlock=True)
        fw_tree = None
        if self.door_runtime == "micropython":
            try:
                fw_tree = simhouse.door_firmware(wd)
            except SimError as e:
                raise LabError(str(e)) from None
        self.door = DoorProcess(self.parties["door"], door_dev.folder, self.door_runtime,
                                fw_tree, simhouse.DOOR_HEAP)
        await self.door.start()

        self.parties["bridge"] = Party("bridge", bridge_dev.jid, self.t0)
        self.bridge = _bridge_process_class()(self.parties["bridge"],
                                              self._bridge_config(bridge_dev, bridge_dev.folder),
                                              bridge_dev.folder)
        await self.bridge.start()
        for name, dev in zip(phone_names, phone_devs):
            self.parties[name] = Party(name, dev.jid, self.t0)
            self.phones.append(simhouse.start_phone(
                self.parties[name], dev, dev.folder, self.sb.address, self.ring_timeout_s,
                self.authority, door_dev.jid))
        await simhouse.wait_paired(self.parties["door"],
                                   [bridge_dev.jid] + [dev.jid for dev in phone_devs])
        await self.parties["bridge"].wait_for(sip_event("registration", code=200),
                                              what="SIP registration")
        if self.mode == "registrar":
            await self._start_anna()

    async def stop(self):
        for runner in self.phones:
            await _quietly(runner.stop())
        for part in (self.door, self.bridge, self.anna):
            if part is not None:
                await _quietly(part.stop())
        if self.kam is not None:
            self.kam.stop()
        if self.sb is not None:
            await _quietly(self.sb.close())

    def line_counts(self):
        """{party: lines so far}: where a later call's lines begin (quality(since=))."""
        return dict((name, len(p.lines)) for name, p in self.parties.items())

    def log_tails(self):
        """What each part said last: for a failing test's message."""
        out = []
        for name, party in self.parties.items():
            out.append("== %s\n%s" % (name, "\n".join(json.dumps(d) for _, d in party.lines[-40:])))
        if self.bridge is not None:
            out.append("== bridge stderr\n%s" % self.bridge.stderr_text())
        if self.anna is not None:
            out.append("== baresip anna\n%s" % self.anna.log_tail())
        if self.kam is not None:
            out.append("== kamailio\n%s" % self.kam.log_tail())
        return "\n".join(out)


async def wav_settled(path, timeout_s=5):
    """A WAV its writer has closed: its size stays put and holds more than a header."""
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size > 1000 and size == last:
            return path
        last = size
        await asyncio.sleep(0.2)
    raise LabError("%s never settled (%d bytes)" % (path, last))


async def _door_heard(house):
    """What the door heard in its last call (16 kHz): heard.wav for the first call, then the
    virtual door's raw PCM heard.wav.N for the Nth (portier.hal.vdoor)."""
    import numpy as np

    from .. import audioquality

    folder = os.path.join(house.workdir, "door")
    paths = [os.path.join(folder, n) for n in os.listdir(folder) if n.startswith("heard.wav")]
    path = await wav_settled(max(paths, key=lambda p: (os.path.getmtime(p), len(p))))
    if path.endswith(".wav"):
        return audioquality.load_wav(path)[1]
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), "<i2").astype(np.int16)


async def quality(house, talk_s, since=None, anna_since=0):
    """PESQ (narrowband) of what the SIP phone heard of the door, and the door of the phone,
    over the first talk_s seconds of each recording (before any keypad digits and tones), once
    the call that began after the parties' lines `since` ({name: count}) and anna event
    anna_since is over (the door's and the bridge's media stopped)."""
    from .. import audioquality, simhouse

    for name in ("door", "bridge"):
        party = house.parties[name]
        earlier = set(id(d) for _, d in party.lines[:(since or {}).get(name, 0)])
        await party.wait_for(lambda d: d.get("msg") == "media stop" and id(d) not in earlier,
                             what="the %s's media stop" % name)
    await house.anna.wait_event("CALL_CLOSED", since=anna_since)
    _, door_said = audioquality.load_wav(os.path.join(simhouse.ASSETS, "male-8k.wav"))
    _, anna_heard = audioquality.load_wav(await wav_settled(house.anna.recordings()[-1]))
    _, anna_said = audioquality.load_wav(os.path.join(simhouse.ASSETS, "female-8k.wav"))
    door_heard = await _door_heard(house)
    n = int(talk_s * 8000)
    door_heard = audioquality.decimate2(door_heard)[:n]
    # The SIP phone talks from the moment it answers; the door hears it only once its own
    # media session is up (on a loaded host that took up to 1.5 s). What was said before
    # never reached the door: the reference starts where the door's recording does (that
    # set-up time is the benchmark's "accept -> first audio", not a loss of quality).
    missed = _missed(anna_said, door_heard)
    return (audioquality.compare(door_said, anna_heard[:n], 8000, n),
            audioquality.compare(anna_said[missed:], door_heard, 8000, n))


def _missed(sent, received, max_lag=3 * 8000):
    """How much of the start of `sent` never reached `received` (0 in the usual case, where
    received is sent, delayed): whichever of the two alignments, received later than sent or
    sent's start missing, correlates better."""
    from .. import audioquality

    late = audioquality.align(sent, received, max_lag)
    missing = audioquality.align(received, sent, max_lag)
    if _correlation(sent[missing:], received) > _correlation(sent, received[late:]):
        return missing
    return 0


def _correlation(a, b):
    """Normalised correlation of two signals from their first samples on (1.0: the same)."""
    import numpy as np

    n = min(len(a), len(b))
    if n == 0:
        return 0.0
    a = np.asarray(a[:n], np.float64)
    b = np.asarray(b[:n], np.float64)
    return float(np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) or 1.0))


async def _quietly(coro):
    try:
        await asyncio.wait_for(coro, 10)
    except Exception:  # noqa: BLE001 - stopping anyway; the test's own failure is reported
        pass
