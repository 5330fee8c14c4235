# portier: board-only (machine.Pin, machine.I2S)
# The door board's HAL for portier.app: the doorbell button and status LED on the GPIOs of the
# board file (boards/*.json, copied to flash), the I2S microphone and amplifier for calls. The
# timing logic is portier.hal.controls' (sans-IO, tested on the host); this only moves levels.
# The button is sampled every 10 ms (debounced by controls.Button) rather than woken by an IRQ:
# simpler, and 10 ms is far below a person's press.
import asyncio
import json
import time

from machine import Pin
from micropython import const

from portier.hal import controls
from portier.hal.esp32 import RATE, I2sAudio

_POLL_MS = const(10)
_MAX_BOARD_FILE = const(4096)


class Esp32Door:
    name = "esp32"

    def __init__(self, audio_cfg):
        path = audio_cfg.get("file") or "board.json"
        with open(path) as f:
            board = json.loads(f.read(_MAX_BOARD_FILE))
        self.board = board
        b = board["button"]
        pull = Pin.PULL_UP if b.get("pull") == "up" else Pin.PULL_DOWN if b.get("pull") == "down" else None
        self._button_pin = Pin(b["pin"], Pin.IN, pull)
        self.button = controls.Button(active_level=b["active"], idle_level=self._button_pin.value())
        led = board["led"]
        self._led = controls.Led(led["active"])
        self._led_pin = Pin(led["pin"], Pin.OUT, value=self._led.level())

    def led(self, state, now_ms):
        self._led_pin.value(self._led.set(state, now_ms))

    def audio(self, rate):
        # The I2S bus always runs at RATE (16 kHz); 8 kHz codecs resample in the media path.
        i2s = self.board["i2s"]
        return I2sAudio(i2s["mic"], i2s["amp"], RATE)

    async def run(self, app):
        """Button presses -> app.command("press"); the LED's pattern steps."""
        while True:
            now = time.ticks_ms()
            self.button.edge(self._button_pin.value(), now)
            for ev in self.button.pending():
                if ev == controls.PRESS:
                    await app.command("press")
            self._led_pin.value(self._led.on_timer(now))
            await asyncio.sleep_ms(_POLL_MS)
