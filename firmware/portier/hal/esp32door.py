# portier: board-only (machine.Pin/WDT, network.WLAN, machine.I2S)
# The door board's HAL for portier.app, on the GPIOs of the board file (boards/*.json, copied
# to flash). Every decision is made by sans-IO objects tested on both runtimes
# (portier.hal.controls: Button, Relay, Led; portier.hal.boardpolicy: WlanPolicy,
# WatchdogPolicy); this module only moves levels and calls the MicroPython API:
#
#   button  Pin IRQ on both edges -> ThreadSafeFlag -> _edges() feeds Button.edge() until the
#           level settles -> a BUTTON input in the app's inbox; a long press (2 s) a LONG_PRESS
#           (the app logs the status line)
#   relay   open_door(pulse_ms, now_ms) energises the strike; the ticker releases it at the end
#           of the pulse (and feed(), from the app's loop, checks it too); released at boot by
#           boot.py and whenever run() ends
#   LED     led(state, now_ms) picks a pattern; the ticker steps it
#   WDT     started by start(); fed by feed() only while the app's edge loop and the ticker
#           both beat (WatchdogPolicy), so a hung or dead loop resets the board
#   WLAN    station with the config's SSID and the secrets' password, host name from the JID;
#           start() connects before the link starts, the ticker reconnects with backoff and
#           resets after a long outage (WlanPolicy); power save off during calls
import asyncio
import gc
import json
import time

import machine
import network
from machine import Pin
from micropython import const

from portier.hal import boardpolicy, controls
from portier.hal.board import BUTTON, LONG_PRESS, Board
from portier.net import streams

_TICK_MS = const(50)  # the ticker's longest sleep: a new relay or LED deadline is seen within it
# The app's loop feeds at least every 100 ms; the longest legitimate stalls on a board (a TLS
# handshake in mbedtls, a flash write, a GC) take seconds at most. A stanza write stuck on a dead
# TCP connection holds that loop until the link's keepalive gives up (15 s idle + 10 s for the
# pong): the timeout stays above that, so only a loop that is really stuck resets the board.
WDT_TIMEOUT_MS = const(30000)
_STALE_MS = const(10000)  # a loop that has not beaten this long is taken for hung
_CONNECT_WAIT_MS = const(15000)  # start() gives Wi-Fi this long before the link starts anyway
_MAX_BOARD_FILE = const(4096)

_wdt = None  # the started watchdog (one per board; it cannot be stopped once running)
_wdt_timeout_ms = WDT_TIMEOUT_MS


_PIXEL_ON = (0, 40, 60)  # a dim cyan: visible at a door by night, no glare
_PIXEL_OFF = (0, 0, 0)


class _PixelLed:
    """An addressable RGB LED (the Atom Echo's SK6812) behind a Pin's value(level)."""

    def __init__(self, pin, active, level):
        from neopixel import NeoPixel

        self._np = NeoPixel(Pin(pin, Pin.OUT), 1)
        self._active = active
        self._level = None
        self.value(level)

    def value(self, level):
        if level == self._level:
            return  # the ticker calls this every turn; a write is a 30 us bit-banged burst
        self._level = level
        self._np[0] = _PIXEL_ON if level == self._active else _PIXEL_OFF
        self._np.write()


class Esp32Door(Board):
    name = "esp32"
    has_strike = True

    def __init__(self, audio_cfg, cfg=None, wdt_timeout_ms=WDT_TIMEOUT_MS, stale_ms=_STALE_MS,
                 wlan_policy=None, connect_wait_ms=_CONNECT_WAIT_MS):
        path = audio_cfg.get("file") or "board.json"
        with open(path) as f:
            board = json.loads(f.read(_MAX_BOARD_FILE))
        self.board = board
        self.cfg = cfg
        # none / suppress / half_duplex (boards.py checks it); the app gives each call's media
        # the matching dsp.EchoControl, which also switches a shared bus (net/media.py).
        self.echo_control = board.get("audio", {}).get("echo_control", "none")
        r = board["relay"]
        self.relay = controls.Relay(r["active"])
        # boot.py set this level already; a HAL built without it (a REPL session) must too.
        self._relay_pin = Pin(r["pin"], Pin.OUT, value=self.relay.boot_level())
        b = board["button"]
        pull = Pin.PULL_UP if b.get("pull") == "up" else Pin.PULL_DOWN if b.get("pull") == "down" else None
        self._button_pin = Pin(b["pin"], Pin.IN, pull)
        self.button = controls.Button(active_level=b["active"], idle_level=self._button_pin.value())
        led = board["led"]
        self._led = controls.Led(led["active"])
        if led.get("kind") == "neopixel":
            self._led_pin = _PixelLed(led["pin"], led["active"], self._led.level())
        else:
            self._led_pin = Pin(led["pin"], Pin.OUT, value=self._led.level())
        self._flag = asyncio.ThreadSafeFlag()
        self._irqs = 0
        self._button_pin.irq(handler=self._on_edge, trigger=Pin.IRQ_RISING | Pin.IRQ_FALLING)
        self._wdt_timeout = wdt_timeout_ms
        self._stale = stale_ms
        self._connect_wait = connect_wait_ms
        self._dog = None
        self.wlan = None
        self._wifi = wlan_policy
        self._ssid = self._key = None

    # ---- the app's HAL interface ----

    def led(self, state, now_ms):
        self._led_pin.value(self._led.set(state, now_ms))

    def audio(self, rate):
        from portier.hal.esp32 import RATE, I2sAudio

        # The I2S bus always runs at RATE (16 kHz); 8 kHz codecs resample in the media path.
        i2s = self.board["i2s"]
        return I2sAudio(i2s["mic"], i2s["amp"], RATE)

    def open_door(self, pulse_ms, now_ms):
        """Energise the strike for pulse_ms (controls.Relay caps it); the ticker releases it."""
        self._relay_pin.value(self.relay.pulse(now_ms, pulse_ms))
        self._log("I", "relay on", pulse_ms=pulse_ms)

    def call_active(self, flag):
        wifi = self._wifi
        if wifi is not None and wifi.call_active(flag) and self.wlan is not None:
            self._apply_power_save()

    def feed(self):
        """The app's edge loop, every turn: a second path that ends a pulse, and the watchdog."""
        now = time.ticks_ms()
        self._step_relay(now)
        dog = self._dog
        if dog is None:
            return
        dog.beat("app", now)
        if dog.may_feed(now):
            _wdt.feed()

    async def start(self, inbox, log):
        """Before the link starts: the watchdog, then Wi-Fi, waiting up to connect_wait_ms."""
        global _wdt, _wdt_timeout_ms
        await Board.start(self, inbox, log)
        self._load_wifi()  # a bad secrets file stops here, at the REPL, before the watchdog
        now = time.ticks_ms()
        if _wdt is None:
            _wdt = machine.WDT(timeout=self._wdt_timeout)
            _wdt_timeout_ms = self._wdt_timeout
        self._dog = boardpolicy.WatchdogPolicy(("app", "hal"), self._stale, now)
        self._start_wlan(now)
        if self.wlan is None:
            return
        while not self.wlan.isconnected() and time.ticks_diff(time.ticks_ms(), now) < self._connect_wait:
            self._turn(time.ticks_ms())
            self.feed()  # until the app's loop runs, this wait is the app's loop
            await streams.sleep_ms(_TICK_MS)
        self._turn(time.ticks_ms())

    async def run(self):
        """The HAL's own loops: button edges, and the ticker (relay, LED, long press, Wi-Fi)."""
        edges = asyncio.create_task(self._edges())
        try:
            while True:
                now = self._turn(time.ticks_ms())
                await streams.sleep_ms(self._wait_ms(now))
        finally:
            edges.cancel()
            self.release()

    def release(self):
        self._relay_pin.value(self.relay.release())

    # ---- loops ----

    def _on_edge(self, pin):
        # IRQ context (soft on the esp32 port): count, wake the task, allocate nothing.
        self._irqs = (self._irqs + 1) & 0xFFFF
        self._flag.set()

    async def _edges(self):
        flag, pin, button = self._flag, self._button_pin, self.button
        while True:
            await flag.wait()
            seen = self._irqs
            button.edge(pin.value(), time.ticks_ms())
            while button.settling:  # look again when the debounce time is up
                wait = time.ticks_diff(button.next_deadline(), time.ticks_ms())
                await streams.sleep_ms(wait if wait > 0 else 1)
                now = time.ticks_ms()
                if self._irqs != seen:  # edges meanwhile, even if the level reads the same
                    seen = self._irqs
                    button.restart_debounce(now)
                button.edge(pin.value(), now)
            self._dispatch()

    def _turn(self, now):
        """One ticker turn; returns now."""
        if self._dog is not None:
            self._dog.beat("hal", now)
        self._step_relay(now)
        self._led_pin.value(self._led.on_timer(now))
        if not self.button.settling:  # settling is _edges()'s: it knows of edges in between
            self.button.on_timer(now)  # the long press
        self._dispatch()
        if self.wlan is not None:
            self._step_wlan(now)
        return now

    def _wait_ms(self, now):
        wait = _TICK_MS
        button = None if self.button.settling else self.button.next_deadline()
        for d in (self.relay.next_deadline(), self._led.next_deadline(), button):
            if d is not None:
                left = time.ticks_diff(d, now)
                if left < wait:
                    wait = left
        return wait if wait > 0 else 0

    def _step_relay(self, now):
        if self.relay.energised:
            self._relay_pin.value(self.relay.on_timer(now))
            if not self.relay.energised:
                self._log("I", "relay off")

    def _dispatch(self):
        inbox = self.inbox
        if not self.button.has_events or inbox is None:  # most turns: nothing, nothing allocated
            return
        for ev in self.button.pending():
            if ev == controls.PRESS:
                inbox.put_nowait(BUTTON)  # the app's edge loop rings
            elif ev == controls.LONG_PRESS:
                inbox.put_nowait(LONG_PRESS)

    # ---- Wi-Fi ----

    def _load_wifi(self):
        cfg = self.cfg
        if cfg is None or cfg.wifi_ssid is None:
            return
        from portier import secrets

        self._key = secrets.load(cfg.secrets_path).wifi_password
        self._ssid = cfg.wifi_ssid

    def _start_wlan(self, now):
        cfg = self.cfg
        if self._ssid is None:
            self._log("W", "no wifi configured")
            return
        try:  # before active(True): DHCP announces the name set at that point
            network.hostname(boardpolicy.hostname_for(cfg.jid))
        except (AttributeError, ValueError, OSError):  # MicroPython before 1.20: no hostname()
            pass
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        self.wlan = wlan
        if self._wifi is None:
            self._wifi = boardpolicy.WlanPolicy(now)
        self._apply_power_save()

    def _step_wlan(self, now):
        wifi = self._wifi
        was = wifi.connected
        wifi.status(self.wlan.isconnected(), now)
        if wifi.connected != was:
            if wifi.connected:
                self._log("I", "wifi up", addr=self._addr(), attempts=wifi.attempts)
            else:
                # The LED is left to the app: it shows connecting, then the error, once the
                # switchboard link drops (a blip the link survives changes nothing to show).
                self._log("W", "wifi down", status=self.wlan.status())
        act = wifi.action(now)
        if act == boardpolicy.CONNECT:
            self._connect(wifi.attempts)
        elif act == boardpolicy.RESET:
            self._log("E", "wifi down too long: reset")
            self.release()
            machine.reset()

    def _connect(self, attempt):
        wlan = self.wlan
        try:
            wlan.disconnect()  # abort a driver attempt still in progress
        except OSError:
            pass
        try:
            if self._key is None:
                wlan.connect(self._ssid)
            else:
                wlan.connect(self._ssid, self._key)
            self._log("I", "wifi connect", ssid=self._ssid, attempt=attempt)
        except OSError as e:
            self._log("W", "wifi connect failed", error=repr(e), attempt=attempt)

    def _apply_power_save(self):
        w = network.WLAN
        pm = w.PM_PERFORMANCE if self._wifi.power_save else w.PM_NONE
        try:
            self.wlan.config(pm=pm)
        except (ValueError, OSError) as e:  # a firmware without pm: calls still work, later
            self._log("W", "wifi pm", error=repr(e))

    def _addr(self):
        try:
            return self.wlan.ipconfig("addr4")[0]
        except (AttributeError, ValueError, OSError):  # before 1.24: ifconfig()
            return self.wlan.ifconfig()[0]

    # ---- the status line (a long press) ----

    def status(self):
        fields = {"mem_free": gc.mem_free(), "relay": self.relay.energised}
        wlan = self.wlan
        if wlan is not None:
            fields["wifi"] = wlan.isconnected()
            fields["rssi"] = wlan.status("rssi") if wlan.isconnected() else None
            fields["addr"] = self._addr()
        return fields


def keep_fed():
    """main.py after Ctrl-C at the console (mpremote, `portier deploy`): the watchdog cannot be
    stopped once started, so a hardware timer feeds it until the next reset; otherwise it would
    reset the board in the middle of a deploy. Returns the timer, or None without a watchdog."""
    if _wdt is None:
        return None
    wdt = _wdt
    timer = machine.Timer(0)
    timer.init(mode=machine.Timer.PERIODIC, period=_wdt_timeout_ms // 4, callback=lambda t: wdt.feed())
    return timer
