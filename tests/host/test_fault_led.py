"""The door's LED and button while the switchboard is unreachable (docs/protocol.md 8.3), with
the door app in this process (CPython through the shim, its HAL the virtual door) and the link
grace shortened so the test takes seconds: a door that has never reached its switchboard shows
"connecting", then the error past the grace; a press then places no call, logs failed/no_link
and rings nobody once the switchboard is there; linked, the LED is idle. The same with the real
grace on MicroPython: tests/host/test_app_link.py (link drop) and test_fault_restart.py."""

import asyncio
import json
import os
import sys
import time

from portier_host import paths

paths.use_firmware()

from portier import app, config  # noqa: E402
from portier.hal import controls  # noqa: E402
from portier.hal.vdoor import VirtualDoor  # noqa: E402
from portier.net import keepalive  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from minisb import MiniSwitchboard  # noqa: E402

DOOR = "door:1@home"
ANNA = "anna:2@home"


class PortSwitchboard(MiniSwitchboard):
    """The miniature switchboard on a port chosen before it starts."""

    def __init__(self, port):
        MiniSwitchboard.__init__(self)
        self.want_port = port

    async def start(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.want_port)
        self.port = self.want_port
        return self


async def _until(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("%s not met within %g s" % (what, timeout))
        await asyncio.sleep(0.02)


def test_never_linked_door_shows_error_past_grace_and_refuses_a_press(tmp_path, monkeypatch):
    monkeypatch.setattr(keepalive, "GRACE_MS", 400)  # CPython: const() is a plain global here
    folder = tmp_path / "door"
    folder.mkdir()
    (folder / "paired.json").write_text(json.dumps([ANNA]))

    async def body():
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()  # nothing listens there until the switchboard starts below
        cfg = config.check({
            "jid": DOOR, "switchboard": {"host": "127.0.0.1", "port": port, "insecure": True},
            "e2e_store": str(folder / "e2e"), "paired_file": str(folder / "paired.json"),
            "call_log": str(folder / "calls.json"), "control": "none"})
        lines = []
        hal = VirtualDoor({})
        door = app.App(cfg, hal, log=lambda lvl, src, msg, f: lines.append(dict(f, src=src, msg=msg)))
        task = asyncio.create_task(door.run())
        sb = PortSwitchboard(port)
        try:
            def leds():
                return [d["state"] for d in lines if d["msg"] == "led"]

            await _until(lambda: controls.LED_ERROR in leds(), what="the error LED")
            assert leds() == [controls.LED_CONNECTING, controls.LED_ERROR]
            assert hal.led_state == controls.LED_ERROR
            await door.command("press")
            ended = [d for d in lines if d.get("kind") == "ended"]
            assert [(d["direction"], d["peer"], d["outcome"], d["reason"]) for d in ended] == [
                ("out", "household@home", "failed", "no_link")]
            assert door.engine.current() is None
            log = json.loads((folder / "calls.json").read_text())["calls"]
            assert [(e["dir"], e["outcome"], e["reason"]) for e in log] == [
                ("out", "failed", "no_link")]

            await sb.start()
            await _until(lambda: door.link.ready, what="the link")
            await _until(lambda: hal.led_state == controls.LED_IDLE, what="the idle LED")
            assert leds() == [controls.LED_CONNECTING, controls.LED_ERROR, controls.LED_IDLE]
            # no offer of the refused press was held: the switchboard gets only the notice
            # of the missed ring for the paired phone (docs/protocol.md 8.3), without a start
            # time (the door never had the switchboard's clock) but with its age
            await _until(lambda: sb.received, what="the missed-ring notice")
            await asyncio.sleep(0.3)
            assert [(n.tag, n.content[0].tag, n.attrs.get("to")) for _, n in sb.received] == [
                ("call", "missed", ANNA)]
            notice = sb.received[0][1].content[0].attrs
            assert notice.get("start") is None and notice["reason"] == "no_link"
            assert int(notice["ago"]) >= 0
        finally:
            door.quit()
            await asyncio.wait_for(task, 10)
            await sb.close()

    asyncio.run(asyncio.wait_for(body(), 60))
