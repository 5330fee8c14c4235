"""The virtual board's button, relay and LED: the host presses the button and watches the relay
and LED through VirtualBoard, the board side (portier.hal.vboardio) runs on the board's real
MicroPython with controls.Button / controls.Relay doing the timing."""

import os
import time

from portier_host import paths
from portier_host.vboard import VirtualBoard

paths.use_firmware()
from portier.hal import controls  # noqa: E402

# The board's main.py: the vboard door with a stand-in app whose button input opens the door for
# 300 ms and sets the LED to ringing, so each of the three pins is seen moving.
_MAIN = """\
import asyncio, time
from portier.hal import vboardio

class Inbox:
    def put_nowait(self, kind, payload=None, done=None):
        print('INPUT', kind)
        door.led(%d, time.ticks_ms())
        door.open_door(300, time.ticks_ms())

async def main():  # as the App does: start(inbox, log), then run()
    await door.start(Inbox(), lambda lvl, src, msg, **fields: None)
    await door.run()

door = vboardio.VboardDoor({}, vboardio.io_dir())
door.led(%d, time.ticks_ms())
asyncio.run(main())
""" % (controls.LED_RINGING, controls.LED_IDLE)


def _wait(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.02)
    return pred()


def test_button_press_pulses_the_relay_and_sets_the_led(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    os.symlink(os.path.join(paths.FIRMWARE, "portier"), str(flash / "portier"))
    (flash / "main.py").write_text(_MAIN)
    with VirtualBoard(str(flash)) as vb:
        assert _wait(lambda: vb.led() == controls.LED_IDLE)
        assert vb.relay() == (0, 0)  # de-energised from boot
        vb.press_button(0.15)
        assert _wait(lambda: vb.relay() == (1, 1)), vb.relay()
        assert vb.led() == controls.LED_RINGING
        t_on = time.monotonic()
        assert _wait(lambda: vb.relay() == (0, 1)), vb.relay()
        assert time.monotonic() - t_on > 0.2  # the 300 ms pulse ended by itself, not at once

        # A held button presses once (debounce timing itself: tests/core/test_controls.py).
        vb.set_button(True)
        assert _wait(lambda: vb.relay() == (1, 2))
        time.sleep(0.5)
        assert vb.relay()[1] == 2
        vb.set_button(False)
        time.sleep(0.2)

        # A reset mid-pulse: the new boot drives the relay off before anything else.
        vb.press_button(0.15)
        assert _wait(lambda: vb.relay() == (1, 3))
        vb.hard_reset()
        assert vb.wait_boots(2)
        assert _wait(lambda: vb.relay() == (0, 0))
    assert vb.error is None


def test_reset_file_is_the_reset_button(tmp_path):
    from portier_host import vboard

    with VirtualBoard(str(tmp_path / "flash"), run_main=False) as vb:
        assert vb.wait_boots(1)
        vboard.request_reset(vb.io_dir)
        assert vb.wait_boots(2) and vb.hard_resets == 1
        assert not os.path.exists(os.path.join(vb.io_dir, "reset"))
        time.sleep(0.3)
        assert vb.boots == 2  # once per press
    assert vb.error is None
