"""The simulator's parties as processes and tasks (portier sim): each party's log as it
arrives (Party), the door as the real firmware in a child process (DoorProcess) or as a
provisioned board the simulator does not start (ExternalDoor, ExternalDoorRunner: its serial
log, its button), and a softphone as portier.app in this process (PhoneRunner)."""

import asyncio
import json
import os
import sys
import time

from . import paths

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402
from portier.app import App  # noqa: E402

from .phone import PhoneHal  # noqa: E402

STEP_TIMEOUT_S = 20
CONFIG_NAME = "config.json"  # a party's config, in its folder (the door's PORTIER_CONFIG)


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

    async def wait_for(self, pred, timeout_s=STEP_TIMEOUT_S, what="event"):
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


def engine_event(kind, **match):
    """A log-line predicate: the call engine's event `kind` with these fields."""
    return lambda d: (d.get("src") == "engine" and d.get("kind") == kind
                      and all(d.get(k) == v for k, v in match.items()))


def logged(src, msg, **match):
    """A log-line predicate: message `msg` from `src` with these fields."""
    return lambda d: (d.get("src") == src and d.get("msg") == msg
                      and all(d.get(k) == v for k, v in match.items()))


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
        env = dict(os.environ, PORTIER_CONFIG=os.path.join(self.folder, CONFIG_NAME))
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
                        d = board_line(line)
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


def board_line(raw):
    """One line of a board's serial output as a log dict (a JSON line, else raw text)."""
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
