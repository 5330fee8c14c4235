"""`portier phone` as a person meets it: run in a pseudo-terminal (pexpect) against a real
switchboard and a door (the firmware's app on CPython, a child process), the test types what a
person types and reads the screen: the ringing banner and its bell, answer, open the door with
a PIN that is not echoed, hang up, the call history, an unknown command, quit; and a clean exit
on quit, Ctrl-C and Ctrl-D (exit 0, no traceback)."""

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time

import pexpect
import pytest

from portier_host import bundle, paths, provisioning
from portier_host.authority import Authority
from portier_host.simhouse import SIM_PIN, door_secrets, pair_auth_config

PORTIER = os.path.join(os.path.dirname(sys.executable), "portier")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\r")


def _screen(text):
    return _ANSI.sub("", text)


class SwitchboardThread:
    """The household's switchboard (with its relay) in an event loop of its own thread."""

    def __init__(self, db, household):
        from portier_host.switchboard import Switchboard

        async def start():  # made in the loop's thread: its SQLite connection lives there
            return await Switchboard(db, ssl_context=household.server_ssl_context()).start()

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.sb = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = self.sb.address[1]

    def close(self):
        asyncio.run_coroutine_threadsafe(self.sb.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class DoorProcess:
    """The door's app on CPython (JSON lines out, commands in), read by a thread."""

    def __init__(self, cfg_path):
        self.proc = subprocess.Popen([sys.executable, "-m", "portier_host.phone", "--config",
                                      cfg_path], cwd=paths.REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                self.lines.append({"raw": raw.decode(errors="replace")})

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, pred, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in list(self.lines):
                if pred(d):
                    return d
            time.sleep(0.05)
        raise AssertionError("door: no such line; last lines:\n" + "\n".join(
            json.dumps(d) for d in self.lines[-30:]))

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def _device_config(dev, port, **extra):
    cfg = bundle.device_config(dev.jid, "127.0.0.1", port, base=dev.folder, **extra)
    return bundle.write_config(dev.folder, cfg, "config.json")


@pytest.fixture
def household(tmp_path):
    db = str(tmp_path / "sb.db")
    hh = provisioning.create_household("home")
    door = provisioning.add_device(hh, "door", db=db, folder=str(tmp_path / "door"), prekeys=3)
    anna = provisioning.add_device(hh, "anna", db=db, folder=str(tmp_path / "anna"), prekeys=3)
    sb = SwitchboardThread(db, hh)
    authority = Authority.new()  # the household's pairing authority (protocol 8.5)
    door_cfg = _device_config(door, sb.port, profile="door", control="stdin",
                              **door_secrets(door.folder, authority.door_key(door.jid), True))
    phone_cfg = _device_config(anna, sb.port, profile="phone", pair_with=[door.jid],
                               call=door.jid, **pair_auth_config(authority, door.jid, anna))
    proc = DoorProcess(door_cfg)
    try:
        proc.wait(lambda d: d.get("msg") == "ready")
        yield proc, door.jid, phone_cfg
    finally:
        proc.stop()
        sb.close()


def _spawn(args, tmp_path):
    env = dict(os.environ, TERM="xterm", HOME=str(tmp_path))
    return pexpect.spawn(PORTIER, ["phone"] + args, env=env, encoding="utf-8", timeout=20,
                         dimensions=(40, 100))


def _expect(child, pattern):
    """Wait for pattern in the screen text (escape sequences removed); returns what came
    before it since the last expect."""
    try:
        child.expect(pattern)
    except (pexpect.TIMEOUT, pexpect.EOF):
        raise AssertionError("screen never showed %r; it showed:\n%s"
                             % (pattern, _screen(child.before or ""))) from None
    return _screen(child.before)


def test_a_person_answers_opens_the_door_and_hangs_up(household, tmp_path):
    door, door_jid, phone_cfg = household
    child = _spawn(["--config", phone_cfg], tmp_path)
    try:
        head = _expect(child, "connected to the switchboard")
        assert "Portier phone anna:" in head and "door %s" % door_jid in head
        assert "WARNING" in head and "silent" in head  # no sound card here, no WAV files
        door.wait(lambda d: d.get("msg") == "paired")
        _expect(child, "paired with %s" % door_jid)

        door.send("press")
        before = _expect(child, "THE DOOR IS RINGING")
        assert "\a" in before  # the bell comes with the banner
        _expect(child, re.escape(door_jid))
        _expect(child, "a = answer")
        _expect(child, r"RINGING: a answer, r reject\] > ")
        child.expect("\a", timeout=10)  # rung again while nobody answers

        child.sendline("a")
        _expect(child, "talking to %s" % re.escape(door_jid))
        door.wait(lambda d: d.get("kind") == "answered")

        child.sendline("o")
        _expect(child, r"PIN \(not shown\): ")
        child.sendline(SIM_PIN)
        after_pin = _expect(child, "DOOR OPENED")
        assert SIM_PIN not in after_pin  # the terminal did not echo it
        door.wait(lambda d: d.get("src") == "door" and d.get("msg") == "relay"
                  and d.get("energised") is True)

        child.sendline("h")
        _expect(child, r"call ended after 0:\d\d")
        door.wait(lambda d: d.get("kind") == "ended" and d.get("outcome") == "answered")

        child.sendline("l")
        _expect(child, "call history")
        row = _expect(child, r"\] > ")
        assert re.search(r"in\s+%s\s+answered 0:\d\d" % re.escape(door_jid), row), row

        child.sendline("frobnicate")
        _expect(child, "unknown command 'frobnicate'; commands: answer \\(a\\), reject \\(r\\), "
                       "open \\(o\\), hangup \\(h\\), call \\(c\\), history \\(l\\)")

        child.sendline("help")
        helptext = _expect(child, r"q\s+quit")
        assert "o  open" in helptext

        child.sendline("q")
        rest = _expect(child, pexpect.EOF)
        assert "bye" in rest
    finally:
        child.close()
    assert child.exitstatus == 0 and child.signalstatus is None
    assert "Traceback" not in rest and "Fatal" not in rest


def test_the_phone_calls_the_door_and_a_missed_ring_is_shown(household, tmp_path):
    door, door_jid, phone_cfg = household
    child = _spawn(["--config", phone_cfg], tmp_path)
    try:
        _expect(child, "paired with")
        child.sendline("c")
        _expect(child, "calling %s" % re.escape(door_jid))
        door.wait(lambda d: d.get("kind") == "ringing" and d.get("direction") == "in")
        door.send("reject")
        _expect(child, "the door declined the call")
        door.send("press")
        _expect(child, "THE DOOR IS RINGING")
        door.send("hangup")  # the visitor gives up before anyone answers
        _expect(child, "MISSED: the door rang and nobody answered")
        child.sendeof()  # Ctrl-D
        _expect(child, pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("how", ["quit", "ctrl-c", "ctrl-d"])
def test_leaving_is_clean_without_a_switchboard(how, tmp_path):
    child = _spawn(["--jid", "anna:1@home", "--switchboard", "127.0.0.1:9", "--insecure",
                    "--store", str(tmp_path / "e2e")], tmp_path)
    try:
        _expect(child, "cannot reach the switchboard")
        if how == "quit":
            child.sendline("quit")
        elif how == "ctrl-c":
            child.sendintr()
        else:
            child.sendeof()
        rest = _expect(child, pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, (how, rest)
    assert "Traceback" not in rest and "Fatal" not in rest and "bye" in rest


@pytest.mark.parametrize("how", ["quit", "ctrl-c"])
def test_json_mode_quits_cleanly(how, tmp_path):
    """Scripts' mode: JSON lines; `quit` and Ctrl-C used to abort with "Fatal Python error:
    _enter_buffered_busy" (exit 134)."""
    child = _spawn(["--json", "--jid", "anna:1@home", "--switchboard", "127.0.0.1:9",
                    "--insecure", "--store", str(tmp_path / "e2e")], tmp_path)
    try:
        _expect(child, '"msg": "reconnect"')
        child.sendline("quit") if how == "quit" else child.sendintr()
        rest = _expect(child, pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, rest
    assert '"msg": "stop"' in rest and "Fatal" not in rest and "Traceback" not in rest


def test_a_missed_ring_told_after_an_outage_is_shown_with_its_time():
    """The door's <missed> notice (docs/protocol.md 8.3) reaches the screen as a bold line with
    the bell and the time of the press, and the call history gets the missed call."""
    import io

    from portier import config
    from portier_host import phoneui

    cfg = config.check({"jid": "anna:1@home", "switchboard": {"host": "127.0.0.1", "port": 9, "insecure": True},
                        "profile": "phone", "call": "door:1@home", "e2e_store": "unused"})
    out = io.StringIO()
    ui = phoneui.PhoneScreen(cfg, out=out)
    start = int(time.time()) - 95
    ui.log("I", "app", "missed ring", {"peer": "door:1@home", "call_id": "C1", "start": start,
                                       "ago_s": 95, "reason": "no_link"})
    ui.log("I", "app", "call log", {"direction": "in", "peer": "door:1@home", "outcome": "missed",
                                    "reason": "no_link", "start": start, "duration": 0})
    text = out.getvalue()
    assert "\a" in text
    assert "MISSED while the switchboard was away: door:1@home rang at %s" % time.strftime(
        "%H:%M:%S", time.localtime(start)) in text
    ui.show_history()
    assert re.search(r"in\s+door:1@home\s+missed", out.getvalue())
