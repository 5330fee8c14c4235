# The ESP32 door HAL (portier.hal.esp32door), boot.py and main.py, run on CPython against the
# shim's machine (Pin with IRQs, WDT, Timer) and network (WLAN, hostname): the outside world
# drives the button pin, reads the relay and LED pins and takes the access point away.
# Time is real (asyncio), with margins far above the HAL's 50 ms tick; lower bounds are exact.
import asyncio
import gc
import json
import os
import runpy
import shutil
import sys
import time
import types

import pytest

from portier_host import bundle, paths

paths.use_firmware()

import machine  # noqa: E402  (the shim)
import network  # noqa: E402  (the shim)

from portier.hal import boardpolicy, controls  # noqa: E402
from portier.hal.board import Board  # noqa: E402

BOARD = os.path.join(paths.REPO, "boards", "esp32-devkitc.json")
BUTTON, RELAY, LED = 4, 23, 21  # esp32-devkitc.json


class Flag:
    """MicroPython's asyncio.ThreadSafeFlag on CPython: set() from an IRQ, one waiter, cleared
    when wait() returns."""

    def __init__(self):
        self._ev = asyncio.Event()

    def set(self):
        self._ev.set()

    def clear(self):
        self._ev.clear()

    async def wait(self):
        await self._ev.wait()
        self._ev.clear()


class FakeApp:
    def __init__(self):
        self.commands = []
        self.logs = []
        self.link = types.SimpleNamespace(ready=True)

        self.inbox = self  # the app's Inbox: what the HAL puts into it

    def put_nowait(self, kind, payload=None, done=None):
        self.commands.append(kind)

    def log(self, lvl, src, msg, **fields):
        self.logs.append((msg, fields))

    def msgs(self, msg):
        return [f for m, f in self.logs if m == msg]


@pytest.fixture()
def hal(monkeypatch, tmp_path):
    monkeypatch.setattr(asyncio, "ThreadSafeFlag", Flag, raising=False)
    monkeypatch.setattr(gc, "mem_free", lambda: 61234, raising=False)  # MicroPython's gc
    monkeypatch.chdir(tmp_path)
    shutil.copy(BOARD, "board.json")
    machine._pins.clear()
    machine._external.clear()
    network.set_reachable(True)
    sys.modules.pop("portier.hal.esp32door", None)
    import portier.hal.esp32door as mod

    yield mod
    sys.modules.pop("portier.hal.esp32door", None)
    network.set_reachable(True)


def _cfg(tmp_path, password="correct horse", ssid="home-net"):
    path = bundle.write_secrets(str(tmp_path), bundle.secrets_document(wifi_password=password))
    return types.SimpleNamespace(wifi_ssid=ssid, secrets_path=path, jid="door:1@home")


async def _sleep(ms):
    await asyncio.sleep(ms / 1000)


async def _bounce(levels_ms, pin=BUTTON):
    for level, ms in levels_ms:
        machine.drive_pin(pin, level)
        await _sleep(ms)


_PRESS = ((0, 2), (1, 3), (0, 1), (1, 4), (0, 2), (1, 1), (0, 300))  # contact bounce, then held
_RELEASE = ((1, 2), (0, 3), (1, 1), (0, 2), (1, 200))


def test_a_bouncing_press_is_one_button_input(hal):
    async def main():
        machine.drive_pin(BUTTON, 1)  # released: the pull-up's level
        door = hal.Esp32Door({"file": "board.json"})
        app = FakeApp()
        await Board.start(door, app.inbox, app.log)  # what the App gives every board
        task = asyncio.create_task(door.run())
        await _bounce(_PRESS)
        assert app.commands == ["button"]  # as soon as the contact settled, while still held
        await _bounce(_RELEASE)
        assert app.commands == ["button"]
        await _bounce(((0, 10), (1, 200)))  # a 10 ms glitch on a long wire: no press
        assert app.commands == ["button"]
        await _bounce(_PRESS + _RELEASE)
        assert app.commands == ["button", "button"]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_the_press_comes_from_the_irq_not_from_polling(hal):
    async def main():
        machine.drive_pin(BUTTON, 1)
        door = hal.Esp32Door({"file": "board.json"})
        app = FakeApp()
        await Board.start(door, app.inbox, app.log)  # what the App gives every board
        task = asyncio.create_task(door.run())
        machine._pins[BUTTON].irq(handler=None)  # the IRQ is the only way in
        await _bounce(_PRESS + _RELEASE)
        assert app.commands == []
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_a_button_held_at_boot_does_not_ring_and_a_long_press_asks_for_status(hal):
    async def main():
        machine.drive_pin(BUTTON, 0)  # held while the board boots
        door = hal.Esp32Door({"file": "board.json"})
        app = FakeApp()
        await Board.start(door, app.inbox, app.log)  # what the App gives every board
        task = asyncio.create_task(door.run())
        await _sleep(300)
        assert app.commands == []
        await _bounce(_RELEASE)
        machine.drive_pin(BUTTON, 0)
        await _sleep(2300)  # past the 2 s long press
        assert app.commands == ["button", "long press"]  # the App logs the status line
        assert door.status()["relay"] is False and door.status()["mem_free"] == 61234
        await _sleep(500)
        assert app.commands == ["button", "long press"]  # once per hold
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_relay_pulse_ends_on_time_and_the_led_steps(hal):
    async def main():
        door = hal.Esp32Door({"file": "board.json"})
        assert machine.pin_level(RELAY) == 0  # active-high relay, released from the start
        app = FakeApp()
        await Board.start(door, app.inbox, app.log)  # what the App gives every board
        task = asyncio.create_task(door.run())
        await _sleep(10)
        door.led(controls.LED_CONNECTING, time.ticks_ms())  # 250 ms on, 250 ms off
        led_levels = set()
        start = time.ticks_ms()
        door.open_door(400, start)
        assert machine.pin_level(RELAY) == 1
        released = None
        while time.ticks_diff(time.ticks_ms(), start) < 1000:
            led_levels.add(machine.pin_level(LED))
            if released is None and machine.pin_level(RELAY) == 0:
                released = time.ticks_diff(time.ticks_ms(), start)
            await _sleep(5)
        assert released is not None and 400 <= released < 550, released
        assert led_levels == {0, 1}
        assert [m for m, _ in app.logs] == ["relay on", "relay off"]
        # a pulse outside 1..15 s is refused and changes nothing
        with pytest.raises(controls.ControlsError):
            door.open_door(60000, time.ticks_ms())
        assert machine.pin_level(RELAY) == 0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_relay_released_when_the_hal_loop_ends(hal):
    async def main():
        door = hal.Esp32Door({"file": "board.json"})
        app = FakeApp()
        await Board.start(door, app.inbox, app.log)
        task = asyncio.create_task(door.run())
        await _sleep(20)
        door.open_door(10000, time.ticks_ms())
        await _sleep(20)
        assert machine.pin_level(RELAY) == 1
        task.cancel()  # the app ends (an exception elsewhere cancels every task)
        await asyncio.gather(task, return_exceptions=True)
        assert machine.pin_level(RELAY) == 0

    asyncio.run(main())


def test_feed_alone_ends_a_pulse_when_the_ticker_is_gone(hal):
    door = hal.Esp32Door({"file": "board.json"})
    now = time.ticks_ms()
    door.open_door(1000, now)
    assert machine.pin_level(RELAY) == 1
    time.sleep(1.05)
    door.feed()  # the app's loop, no HAL ticker running, no watchdog started
    assert machine.pin_level(RELAY) == 0


def _board_with(tmp_path, **relay):
    with open(BOARD) as f:
        data = json.load(f)
    data["relay"].update(relay)
    with open(tmp_path / "board.json", "w") as f:
        json.dump(data, f)


def _run_boot():
    sys.modules.pop("boot", None)
    return runpy.run_path(os.path.join(paths.FIRMWARE, "boot.py"))


def test_boot_py_releases_the_relay_first_and_raises_the_clock(hal, tmp_path, capsys):
    machine.freq(160_000_000)
    _board_with(tmp_path, active=1)
    _run_boot()
    assert machine.pin_level(RELAY) == 0 and machine._pins[RELAY]._mode == machine.Pin.OUT
    assert machine.freq() == 240_000_000
    _board_with(tmp_path, pin=25, active=0)  # an active-low relay module elsewhere
    _run_boot()
    assert machine.pin_level(25) == 1
    # nothing stops the boot: no board file, a corrupt one, a wrong field
    os.remove("board.json")
    _run_boot()
    with open("board.json", "w") as f:
        f.write("{not json")
    _run_boot()
    _board_with(tmp_path, active=5)
    g = _run_boot()
    assert g["release_relay"]() is None
    assert "relay not released" in capsys.readouterr().out


def test_main_py_releases_the_relay_when_the_app_dies(hal, tmp_path, monkeypatch):
    import portier.app

    def crashing_main():
        door = hal.Esp32Door({"file": "board.json"})
        door.open_door(5000, time.ticks_ms())
        assert machine.pin_level(RELAY) == 1
        raise RuntimeError("a bug in the app")

    monkeypatch.setattr(portier.app, "main", crashing_main)
    sys.modules.pop("boot", None)
    monkeypatch.syspath_prepend(paths.FIRMWARE)  # boot.py is importable as on the board
    with pytest.raises(RuntimeError):
        runpy.run_path(os.path.join(paths.FIRMWARE, "main.py"))
    assert machine.pin_level(RELAY) == 0
    sys.modules.pop("boot", None)


def test_main_py_on_ctrl_c_keeps_the_watchdog_fed_from_a_timer(hal, tmp_path, monkeypatch):
    import portier.app

    def interrupted_main():
        door = hal.Esp32Door({"file": "board.json"}, _cfg(tmp_path, ssid=None), wdt_timeout_ms=400)
        asyncio.run(door.start(FakeApp().inbox, FakeApp().log))
        door.open_door(5000, time.ticks_ms())
        raise KeyboardInterrupt

    monkeypatch.setattr(portier.app, "main", interrupted_main)
    sys.modules.pop("boot", None)
    monkeypatch.syspath_prepend(paths.FIRMWARE)
    with pytest.raises(KeyboardInterrupt):
        runpy.run_path(os.path.join(paths.FIRMWARE, "main.py"))
    assert machine.pin_level(RELAY) == 0
    timer = machine.timer(0)
    assert timer.mode == machine.Timer.PERIODIC and timer.period == 100
    time.sleep(0.3)
    machine.fire_timer(0)  # the timer's callback feeds
    time.sleep(0.3)
    assert not hal._wdt.expired()  # 0.6 s since start, fed at 0.3 s
    time.sleep(0.2)
    assert hal._wdt.expired()  # without the timer firing, it would reset the board
    sys.modules.pop("boot", None)


def test_watchdog_is_fed_by_running_loops_and_not_by_a_stalled_one(hal, tmp_path):
    async def main():
        door = hal.Esp32Door({"file": "board.json"}, _cfg(tmp_path, ssid=None),
                             wdt_timeout_ms=300, stale_ms=150)
        app = FakeApp()
        await door.start(app.inbox, app.log)
        wdt = hal._wdt
        assert wdt.timeout_ms == 300
        ticker = asyncio.create_task(door.run())
        stop = asyncio.Event()

        async def app_loop():  # what App._timers does each turn
            while not stop.is_set():
                door.feed()
                await _sleep(20)

        loop = asyncio.create_task(app_loop())
        await _sleep(700)  # longer than the timeout: only feeding keeps it alive
        assert not wdt.expired()
        # The app's loop stalls (stuck in a blocking call): nothing feeds any more.
        time.sleep(0.35)
        assert wdt.expired()
        await _sleep(80)  # the loops run again and feed
        assert not wdt.expired()
        # The HAL's ticker dies while the app's loop goes on: the policy withholds the food.
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        await _sleep(700)
        assert wdt.expired()
        stop.set()
        await loop

    asyncio.run(main())


def _record_connects(monkeypatch, log):
    real = network.WLAN.connect

    def connect(self, ssid=None, key=None, **kw):
        log.append((time.ticks_ms(), ssid, key))
        return real(self, ssid, key, **kw)

    monkeypatch.setattr(network.WLAN, "connect", connect)


def test_wlan_connects_before_the_link_and_power_save_is_off_in_calls(hal, tmp_path, monkeypatch):
    connects = []
    _record_connects(monkeypatch, connects)

    async def main():
        door = hal.Esp32Door({"file": "board.json"}, _cfg(tmp_path))
        app = FakeApp()
        await door.start(app.inbox, app.log)
        wlan = door.wlan
        assert wlan.isconnected()  # start() returned with the station up
        assert [(s, k) for _, s, k in connects] == [("home-net", "correct horse")]
        assert network.hostname() == "portier-door-1"
        assert app.msgs("wifi up")[0]["addr"] == "127.0.0.1"
        assert wlan.config("pm") == network.WLAN.PM_PERFORMANCE
        door.call_active(True)
        assert wlan.config("pm") == network.WLAN.PM_NONE
        door.call_active(False)
        assert wlan.config("pm") == network.WLAN.PM_PERFORMANCE
        assert not any("correct horse" in repr(f) for _, f in app.logs)  # never logged

    asyncio.run(main())


def test_wlan_open_network_and_no_wifi_config(hal, tmp_path, monkeypatch):
    connects = []
    _record_connects(monkeypatch, connects)

    async def main():
        door = hal.Esp32Door({"file": "board.json"}, _cfg(tmp_path, password=None))
        await door.start(FakeApp().inbox, FakeApp().log)
        assert [(s, k) for _, s, k in connects] == [("home-net", None)]
        bare = hal.Esp32Door({"file": "board.json"}, _cfg(tmp_path, ssid=None))
        app = FakeApp()
        await bare.start(app.inbox, app.log)
        assert bare.wlan is None and app.msgs("no wifi configured")
        bare.call_active(True)  # nothing to switch, nothing breaks

    asyncio.run(main())


def test_wlan_reconnects_with_backoff_then_resets(hal, tmp_path, monkeypatch):
    connects = []
    _record_connects(monkeypatch, connects)
    resets = []
    monkeypatch.setattr(machine, "reset", lambda: resets.append(time.ticks_ms()))

    async def main():
        network.set_reachable(False)  # the access point is off when the board boots
        t0 = time.ticks_ms()
        policy = boardpolicy.WlanPolicy(time.ticks_ms(), retry_ms=60, max_retry_ms=240,
                                        give_up_ms=1200)
        door = hal.Esp32Door({"file": "board.json"}, _cfg(tmp_path), wlan_policy=policy,
                             connect_wait_ms=300)
        app = FakeApp()
        await door.start(app.inbox, app.log)  # gives up waiting, the link starts anyway
        assert 300 <= time.ticks_diff(time.ticks_ms(), t0) < 500
        assert not door.wlan.isconnected()
        await Board.start(door, app.inbox, app.log)  # what the App gives every board
        task = asyncio.create_task(door.run())
        door.open_door(5000, time.ticks_ms())
        await _sleep(1300)
        assert len(resets) == 1 and time.ticks_diff(resets[0], t0) >= 1200
        assert machine.pin_level(RELAY) == 0  # released before the reset
        times = [t for t, _, _ in connects]
        gaps = [time.ticks_diff(b, a) for a, b in zip(times, times[1:])]
        assert len(times) >= 5
        # 60, 120, 240, 240, ... ms apart: never sooner than the policy allows
        for i, gap in enumerate(gaps):
            assert gap >= min(60 << i, 240) - 1, gaps
        # The access point comes back: the station is up, attempts stop.
        network.set_reachable(True)
        await _sleep(150)
        assert len(app.msgs("wifi up")) == 1
        n = len(connects)
        shown = door._led.state
        network.set_reachable(False)
        await _sleep(40)
        assert app.msgs("wifi down") and len(connects) == n  # the driver gets the first go
        assert door._led.state == shown  # the app, which knows the link, sets the LED
        await _sleep(200)
        assert len(connects) > n  # then the policy's retry
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_atom_echo_rgb_led_and_button_without_pull(hal, tmp_path):
    import neopixel  # the shim

    shutil.copy(os.path.join(paths.REPO, "boards", "m5stack-atom-echo.json"), "board.json")

    async def main():
        machine.drive_pin(39, 1)  # G39: the board's external pull-up holds it high
        door = hal.Esp32Door({"file": "board.json"})
        assert machine._pins[39]._pull is None  # input-only GPIO: no internal pull asked for
        assert machine.pin_level(26) == 0  # the Grove relay, released
        assert neopixel.pixels(27) == [(0, 0, 0)]
        app = FakeApp()
        await Board.start(door, app.inbox, app.log)  # what the App gives every board
        task = asyncio.create_task(door.run())
        door.led(controls.LED_IN_CALL, time.ticks_ms())
        assert neopixel.pixels(27) == [hal._PIXEL_ON]
        door.led(controls.LED_RINGING, time.ticks_ms())  # 120 on, 120 off, 120 on, 640 off
        seen = set()
        for _ in range(60):
            seen.add(neopixel.pixels(27)[0])
            await _sleep(10)
        assert seen == {hal._PIXEL_ON, (0, 0, 0)}
        await _bounce(_PRESS + _RELEASE, pin=39)
        assert app.commands == ["button"]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


_STUB_MACHINE = """\
_hz = [160000000]


class Pin:
    OUT = 3

    def __init__(self, id, mode=-1, pull=-1, value=None):
        print("PIN", id, mode, value)


def freq(hz=None):
    if hz is None:
        return _hz[0]
    _hz[0] = hz
"""


def test_boot_py_under_the_real_micropython(tmp_path):
    from portier_host import mprun

    shutil.copy(os.path.join(paths.FIRMWARE, "boot.py"), tmp_path / "boot.py")
    _board_with(tmp_path, active=0)
    (tmp_path / "machine.py").write_text(_STUB_MACHINE + "print('FREQ', freq())\n")
    out = mprun.run_micropython(["-c", "import boot; print('FREQ', boot.raise_clock())"],
                                cwd=str(tmp_path)).stdout.split("\n")
    assert out[:3] == ["FREQ 160000000", "PIN 23 3 1", "FREQ 240000000"], out
    # The host's own unix port (no machine.Pin): boot.py does nothing and says nothing.
    (tmp_path / "machine.py").unlink()
    proc = mprun.run_micropython(["-c", "import boot; print(boot.release_relay())"],
                                 cwd=str(tmp_path))
    assert proc.stdout == "None\n" and proc.stderr == ""


class _HookHal(Board):
    """A board's hooks (portier.hal.board) as portier.app calls them, recorded."""

    def __init__(self):
        self.calls = []
        self.feeds = 0
        self.started_at = None

    def led(self, state, now_ms):
        self.calls.append(("led", state))

    def audio(self, rate):
        from portier.hal.virtual import VirtualAudio

        return VirtualAudio(rate, realtime=False)

    async def start(self, inbox, log):
        self.calls.append(("start", len(inbox)))
        await asyncio.sleep(0.3)  # Wi-Fi coming up: the link must wait for it
        self.started_at = time.monotonic()

    def feed(self):
        self.feeds += 1

    def call_active(self, flag):
        self.calls.append(("call_active", flag))


class _Media:
    def __init__(self, **kw):
        self.audio = kw["audio"]
        self.stopped = asyncio.Event()

    async def run(self):
        await self.stopped.wait()

    def stop(self):
        self.stopped.set()

    def silent_ms(self, now):
        return 0

    class stats:  # noqa: N801 - stands in for MediaSession.stats
        @staticmethod
        def to_dict():
            return {}


def test_app_starts_the_hal_before_the_link_feeds_it_and_switches_power_save(tmp_path):
    from portier import app, config

    cfg = config.check({"jid": "door:1@home", "e2e_store": str(tmp_path / "e2e"),
                        "switchboard": {"host": "127.0.0.1", "port": 9, "insecure": True}})
    hal = _HookHal()
    link_logs = []

    def log(lvl, src, msg, fields):
        if src == "link":
            link_logs.append((time.monotonic(), msg))

    a = app.App(cfg, hal, media_class=_Media, log=log)

    async def main():
        task = asyncio.create_task(a.run())
        await asyncio.sleep(0.8)
        assert hal.calls[:2] == [("led", controls.LED_CONNECTING), ("start", 0)]
        assert link_logs and link_logs[0][0] >= hal.started_at  # the link began after start()
        assert hal.feeds >= 3  # the timer loop feeds each turn (every 100 ms at least)
        relay = types.SimpleNamespace(endpoints=[types.SimpleNamespace(address=b"\x7f\0\0\x01\x13\x88")],
                                      tokens=[(0, b"t" * 33)], self_pid=1)
        ev = types.SimpleNamespace(call_id="C1", codec=("PCMU", 8000), relay=relay, peer="anna:2@home",
                                   call_key=bytes(32))
        await a._start_media(ev)
        assert hal.calls[-1] == ("call_active", True)
        await a._stop_media()
        assert hal.calls[-1] == ("call_active", False)
        n = hal.feeds
        await asyncio.sleep(0.3)
        assert hal.feeds > n
        a.quit()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_a_bad_secrets_file_stops_before_the_watchdog_starts(hal, tmp_path):
    from portier.secrets import SecretsError

    cfg = _cfg(tmp_path)
    with open(cfg.secrets_path, "w") as f:
        f.write('{"wifi_password": "short"}')
    door = hal.Esp32Door({"file": "board.json"}, cfg)
    with pytest.raises(SecretsError):
        asyncio.run(door.start(FakeApp().inbox, FakeApp().log))
    assert hal._wdt is None  # the board stays at the REPL to be fixed, not in a reset loop


def test_shim_additions_behave_like_the_board():
    # machine.Timer: esp32 ids 0-3, callbacks only when time passes (fire_timer), one-shot spent.
    with pytest.raises(ValueError):
        machine.Timer(4)
    fired = []
    t = machine.Timer(1)
    t.init(mode=machine.Timer.ONE_SHOT, period=10, callback=fired.append)
    assert fired == [] and machine.fire_timer(1) and fired == [t]
    assert not machine.fire_timer(1)  # a one-shot timer fires once
    t.init(mode=machine.Timer.PERIODIC, freq=4, callback=fired.append)
    assert t.period == 250 and machine.fire_timer(1) and machine.fire_timer(1) and len(fired) == 3
    t.deinit()
    assert not machine.fire_timer(1)
    # network.hostname: one name for every interface, at most 32 characters
    old = network.hostname()
    try:
        network.hostname("portier-door-1")
        assert network.hostname() == "portier-door-1"
        with pytest.raises(ValueError):
            network.hostname("x" * 33)
        assert network.hostname() == "portier-door-1"
    finally:
        network.hostname(old)
    # neopixel: what was written, not what was set
    import neopixel

    np = neopixel.NeoPixel(machine.Pin(5, machine.Pin.OUT), 2)
    np[0] = (1, 2, 3)
    assert neopixel.pixels(5) is None
    np.write()
    assert neopixel.pixels(5) == [(1, 2, 3), (0, 0, 0)]
    with pytest.raises(ValueError):
        np[1] = (1, 2)


@pytest.mark.parametrize("name, mode", [("esp32-devkitc", "ECHO_DUCK"),
                                        ("m5stack-atom-echo", "ECHO_HALF")])
def test_each_call_gets_the_board_files_echo_control(hal, tmp_path, name, mode):
    # The board file's audio.echo_control reaches the media session of every call the app
    # starts (portier.app App._new_media), as a fresh dsp.EchoControl.
    from portier import app, config
    from portier.media import dsp

    shutil.copy(os.path.join(paths.REPO, "boards", name + ".json"), "board.json")
    door = hal.Esp32Door({"file": "board.json"})
    door.audio = lambda rate: types.SimpleNamespace(rate=rate)  # no I2S stream on CPython
    cfg = config.check({"jid": "door:1@home", "e2e_store": str(tmp_path / "e2e"),
                        "switchboard": {"host": "127.0.0.1", "port": 9, "insecure": True}})
    made = []

    def media(**kw):
        made.append(kw)
        return kw

    a = app.App(cfg, door, media_class=media, log=lambda *x: None)
    relay = types.SimpleNamespace(endpoints=[types.SimpleNamespace(address=b"\x7f\0\0\x01\x13\x88")],
                                  tokens=[(0, b"t" * 24)], self_pid=1)
    ev = types.SimpleNamespace(call_id="C1", codec=("pcmu", 8000), relay=relay,
                               peer="anna:2@home", call_key=bytes(32))
    for _ in range(2):
        a._new_media(ev, media)
    echoes = [kw["echo"] for kw in made]
    assert [e.mode for e in echoes] == [getattr(dsp, mode)] * 2 and echoes[0] is not echoes[1]
