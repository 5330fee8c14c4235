"""The CPython shim's micropython, machine, network and time additions."""

import importlib
import io
import subprocess
import sys
import time

import pytest

from portier_host import mprun, paths


@pytest.fixture()
def shim():
    sys.path.insert(0, paths.MPSHIM)
    mods = {}
    try:
        for name in ("micropython", "machine", "network", "mptime"):
            sys.modules.pop(name, None)
            mods[name] = importlib.import_module(name)
        yield mods
    finally:
        sys.path.remove(paths.MPSHIM)
        for name in mods:
            sys.modules.pop(name, None)


def test_micropython_module(shim):
    mp = shim["micropython"]
    assert mp.const(7) == 7

    @mp.viper
    def f(x):
        return x + 1

    assert f(1) == 2 and mp.native(f) is f
    assert mp.heap_lock() == 0 and mp.heap_lock() == 1
    assert mp.heap_unlock() == 1 and mp.heap_unlock() == 0
    seen = []
    mp.schedule(seen.append, 5)
    assert seen == [5]


def test_time_additions_only_when_asked():
    # A fresh interpreter: host tools that never ask see CPython's time unchanged.
    code = (
        "import sys, time; sys.path.insert(0, %r)\n"
        "import mptime, machine, micropython\n"
        "assert not hasattr(time, 'ticks_ms'), 'shim import changed time'\n"
        "mptime.install()\n"
        "d = time.ticks_diff(time.ticks_add(time.ticks_ms(), 50), time.ticks_ms())\n"
        "assert 45 <= d <= 50, d\n"
        "assert time.ticks_ms is mptime.ticks_ms and time.monotonic and time.sleep\n"
        "print('ok')\n" % paths.MPSHIM
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_ticks_wrap_like_micropython(shim):
    t = shim["mptime"]
    period = t.TICKS_PERIOD
    near_end = period - 10
    later = t.ticks_add(near_end, 25)
    assert later == 15  # wrapped
    assert t.ticks_diff(later, near_end) == 25
    assert t.ticks_diff(near_end, later) == -25
    # Away from the wrap, the same numbers as the real MicroPython (whose 64-bit unix port
    # wraps at 2**62; the shim wraps at 2**30 like a 32-bit ESP32, the stricter of the two).
    out = mprun.run_snippet("import time\nprint(time.ticks_add(1000, 25), time.ticks_diff(15, 40))")
    assert out.split() == [str(t.ticks_add(1000, 25)), str(t.ticks_diff(15, 40))] == ["1025", "-25"]


def test_pin_output_input_and_irq(shim):
    machine = shim["machine"]
    relay = machine.Pin(26, machine.Pin.OUT, value=0)
    assert machine.pin_level(26) == 0
    relay.on()
    assert machine.pin_level(26) == 1 and relay.value() == 1
    relay(0)
    assert machine.pin_level(26) == 0

    button = machine.Pin(0, machine.Pin.IN, machine.Pin.PULL_UP)
    assert button.value() == 1  # pulled up, not pressed
    presses = []
    button.irq(presses.append, trigger=machine.Pin.IRQ_FALLING)
    machine.drive_pin(0, 0)
    machine.drive_pin(0, 0)  # no edge, no IRQ
    machine.drive_pin(0, 1)  # rising edge, not asked for
    assert presses == [button]
    assert machine.pin_level(99) is None


def test_i2s_source_sink_and_shift(shim):
    machine = shim["machine"]
    mic = machine.I2S(0, sck=14, ws=15, sd=32, mode=machine.I2S.RX, bits=16,
                      format=machine.I2S.MONO, rate=8000, ibuf=4096)
    amp = machine.I2S(1, sck=26, ws=25, sd=22, mode=machine.I2S.TX, bits=16,
                      format=machine.I2S.MONO, rate=8000, ibuf=4096)
    sink = io.BytesIO()
    machine.attach_i2s(0, source=io.BytesIO(b"\x01\x00\x02\x00"))
    machine.attach_i2s(1, sink=sink)
    buf = bytearray(8)
    assert mic.readinto(buf) == 8
    assert buf == b"\x01\x00\x02\x00" + bytes(4)  # source ran dry: silence
    assert amp.write(b"\x10\x00") == 2 and sink.getvalue() == b"\x10\x00"
    with pytest.raises(OSError):
        mic.write(b"\x00\x00")
    samples = bytearray((1000).to_bytes(2, "little", signed=True) + (-1000).to_bytes(2, "little", signed=True))
    machine.I2S.shift(buf=samples, bits=16, shift=2)
    assert int.from_bytes(samples[0:2], "little", signed=True) == 4000
    assert int.from_bytes(samples[2:4], "little", signed=True) == -4000
    machine.I2S.shift(buf=samples, bits=16, shift=-3)
    assert int.from_bytes(samples[2:4], "little", signed=True) == -500
    with pytest.raises(ValueError):
        machine.I2S(0, sck=1, ws=2, sd=3, mode=machine.I2S.RX, bits=24,
                    format=machine.I2S.MONO, rate=8000, ibuf=1024)


def test_wdt_reset_freq_unique_id(shim, monkeypatch):
    machine = shim["machine"]
    wdt = machine.WDT(timeout=50)
    assert not machine.wdt_expired()
    time.sleep(0.08)
    assert machine.wdt_expired()
    wdt.feed()
    assert not wdt.expired()
    with pytest.raises(SystemExit):
        machine.reset()
    assert machine.freq() == 160_000_000
    machine.freq(240_000_000)
    assert machine.freq() == 240_000_000
    with pytest.raises(ValueError):
        machine.freq(123)
    monkeypatch.setenv("PORTIER_UNIQUE_ID", "a1b2c3d4e5f6")
    assert machine.unique_id() == bytes.fromhex("a1b2c3d4e5f6")


def test_wlan(shim):
    network = shim["network"]
    wlan = network.WLAN(network.STA_IF)
    with pytest.raises(OSError):
        wlan.connect("home", "secret")
    wlan.active(True)
    assert not wlan.isconnected()
    wlan.connect("home", "secret")
    assert wlan.isconnected() and wlan.ipconfig("addr4")[0] == "127.0.0.1"
    wlan.config(pm=wlan.PM_NONE)
    assert wlan.config("pm") == wlan.PM_NONE
    network.set_reachable(False)
    try:
        assert not wlan.isconnected() and wlan.status() == network.STAT_NO_AP_FOUND
    finally:
        network.set_reachable(True)
