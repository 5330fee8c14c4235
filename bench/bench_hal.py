"""The ESP32 HAL's own load: what one ticker turn (relay, LED, long press, Wi-Fi and watchdog
decisions; every 50 ms on a board) and one debounced button press cost in the sans-IO objects,
and what they allocate, under real MicroPython (and CPython for comparison).

The board figure is an estimate: DESIGN.md puts a 240 MHz ESP32 10-20x slower than the host's
MicroPython, so the estimate shows the host figure x 20 (the pessimistic end).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import mprun, paths  # noqa: E402

_BODY = r"""
import gc, time
from portier.hal.boardpolicy import WatchdogPolicy, WlanPolicy
from portier.hal.controls import LED_RINGING, Button, Led, Relay

_MP = hasattr(gc, "mem_alloc")

def setup():
    now = 1000
    led, relay, button = Led(), Relay(), Button(idle_level=1)
    led.set(LED_RINGING, now)
    wifi = WlanPolicy(now, retry_ms=100, max_retry_ms=400, give_up_ms=1 << 29)
    wifi.status(True, now)
    dog = WatchdogPolicy(("app", "hal"), 10000, now)
    return led, relay, button, wifi, dog

def turns(n, objs):
    led, relay, button, wifi, dog = objs
    now = 1000
    for _ in range(n):
        now += 50
        dog.beat("hal", now)
        relay.on_timer(now)
        led.on_timer(now)
        if not button.settling:
            button.on_timer(now)
        button.has_events
        wifi.status(True, now)
        wifi.action(now)
        dog.beat("app", now)
        dog.may_feed(now)

def presses(n):
    b = Button(idle_level=1)
    now = 0
    for _ in range(n):
        for lvl, dt in ((0, 0), (1, 2), (0, 3), (1, 1), (0, 4)):  # a bouncing contact
            now += dt
            b.edge(lvl, now)
        now = b.next_deadline()
        b.edge(0, now)
        b.pending()
        now += 200
        b.edge(1, now)
        now = b.next_deadline()
        b.edge(1, now)
        b.pending()

def median_us(fn, arg, n):
    runs = []
    for _ in range(5):
        t0 = time.ticks_us()
        fn(arg)
        runs.append(time.ticks_diff(time.ticks_us(), t0) / n)
    runs.sort()
    return runs[2]

objs = setup()
turn_us = median_us(lambda k: turns(k, objs), 2000, 2000)
press_us = median_us(presses, 500, 500)
alloc = -1
if _MP:
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    turns(1000, objs)
    alloc = gc.mem_alloc() - a
    gc.enable()
print("ticker turn|%.2f|%d" % (turn_us, alloc))
print("debounced press + release|%.2f|-1" % press_us)
"""


def _cpython_rows():
    paths.use_firmware()
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_BODY, "bench_hal", "exec"), {})
    return out.getvalue()


def run(quick=False):
    mp = mprun.run_snippet(_BODY)
    cp = _cpython_rows()
    rows = []
    for mp_line, cp_line in zip(mp.splitlines(), cp.splitlines()):
        name, mp_us, alloc = mp_line.split("|")
        cp_us = cp_line.split("|")[1]
        heap = "-" if alloc == "-1" else "%s B" % alloc
        rows.append([name, float(mp_us), float(cp_us), 20 * float(mp_us), heap])
    turn = float(mp.splitlines()[0].split("|")[1])
    pct = 20 * turn * 20 / 1e6 * 100
    table = benchlib.table(
        "HAL steps (µs, median of 5 rounds)", ["HAL step", "MicroPython µs", "CPython µs",
                                               "ESP32 est. µs (x20)", "heap per 1000 turns"],
        rows, ["ticker at 20 turns/s on an ESP32 (estimate, x20): %.2f %% of one core" % pct,
               "bench_frame measures the host/ESP32 bytecode ratio instead of assuming it"])
    figures = {"hal_ticker_turn_us": benchlib.figure(
        turn, "µs", "one HAL ticker turn (relay, LED, button, Wi-Fi and watchdog policy)",
        "host MicroPython")}
    return benchlib.result("hal", "ESP32 HAL: ticker turn and debounced press", __doc__,
                           [table], figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
