"""The App built from declared parts (issue 16, step 3): every board's HAL is a
portier.hal.board.Board, the App calls it without probing, the board's inputs come into the
edge loop as inbox inputs (a long press: the status line the App logs), and one function picks
the device's part."""

import ast
import asyncio
import os

from portier_host import paths

paths.use_firmware()

from portier import app, config  # noqa: E402
from portier.hal.board import LONG_PRESS, Board  # noqa: E402

PORTIER = os.path.join(paths.FIRMWARE, "portier")


def _tree(rel):
    with open(os.path.join(PORTIER, rel)) as f:
        return ast.parse(f.read())


def test_the_app_never_probes_its_board():
    for rel in ("app.py", "appunlock.py", "doorpart.py", "phonepart.py"):
        for node in ast.walk(_tree(rel)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("hasattr",
                                                                                   "getattr"):
                probed = ast.unparse(node.args[0])
                assert "hal" not in probed, "%s:%d probes %s" % (rel, node.lineno, probed)


def test_no_hal_imports_the_app():
    for name in os.listdir(os.path.join(PORTIER, "hal")):
        if not name.endswith(".py"):
            continue
        for node in ast.walk(_tree("hal/" + name)):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "portier.app", name
                if node.module == "portier":
                    assert "app" not in [a.name for a in node.names], name
            elif isinstance(node, ast.Import):
                assert "portier.app" not in [a.name for a in node.names], name


def test_every_board_subclasses_the_declared_interface():
    from portier.hal import vboardio, vdoor
    from portier_host.bridge.app import BridgeHal
    from portier_host.phone import PhoneHal

    for hal in (vdoor.VirtualDoor, vboardio.VboardDoor, PhoneHal, BridgeHal):
        assert issubclass(hal, Board), hal
    # the ESP32 board imports machine.I2S at use only; its class line is what counts here
    esp = _tree("hal/esp32door.py")
    (cls,) = [n for n in esp.body if isinstance(n, ast.ClassDef) and n.name == "Esp32Door"]
    assert [b.id for b in cls.bases] == ["Board"]
    # a method the App calls that a board forgot would be a probe's AttributeError: each is there
    for name in ("start", "run", "feed", "led", "audio", "call_active", "open_door", "status"):
        assert callable(getattr(Board, name)), name


def test_one_place_picks_the_part_and_a_long_press_logs_the_status(tmp_path):
    from portier.doorpart import DoorPart
    from portier.phonepart import PhonePart

    def cfg(profile):
        return config.check({"jid": "door:1@home", "profile": profile, "control": "none",
                             "e2e_store": str(tmp_path / profile),
                             "switchboard": {"host": "127.0.0.1", "port": 9, "insecure": True}})

    assert app.part_for(cfg("door")) is DoorPart
    assert app.part_for(cfg("phone")) is PhonePart
    for rel in ("app.py", "doorpart.py", "phonepart.py", "appunlock.py"):
        src = open(os.path.join(PORTIER, rel)).read()
        n = src.count("cfg.profile ==") + src.count("cfg.profile !=")
        assert n == (1 if rel == "app.py" else 0), (rel, n)  # part_for's test, nowhere else

    class _Board(Board):
        def status(self):
            return {"mem_free": 1234}

    lines = []
    a = app.App(cfg("door"), _Board(), log=lambda lvl, src, msg, f: lines.append((src, msg, f)))
    assert isinstance(a.part, DoorPart)

    async def main():
        task = asyncio.create_task(a.run())
        await asyncio.sleep(0.1)
        a.hal.inbox.put_nowait(LONG_PRESS)  # what a board's button loop puts
        for _ in range(100):
            await asyncio.sleep(0.02)
            if [m for _, m, _ in lines if m == "status"]:
                break
        a.quit()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    (status,) = [f for src, m, f in lines if m == "status"]
    assert status == {"link": False, "mem_free": 1234}
