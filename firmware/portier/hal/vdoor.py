# The virtual door's HAL (simulator, host runs, softphones): the LED is a state the app logs,
# the doorbell is the "press" command on stdin, audio is portier.hal.virtual.VirtualAudio over
# WAV files (microphone in, speaker out), opened per call at the configured rate (like a
# board's fixed I2S rate) or else the call's codec rate. The door strike is a
# controls.Relay whose level changes are logged ("door" "relay") and kept in `openings`, so
# tests and the simulator can watch the door open and close again. Like a board file, the
# audio config may name the echo control (echo_control: none / suppress / half_duplex, read by
# the app for each call), an acoustic path from speaker to microphone (echo_path: delay_ms,
# gain_db; hal/acoustic.py) and a shared bus (shared_bus: one direction at a time).
import asyncio
import time

from portier.applog import log_line
from portier.hal import controls
from portier.hal.board import Board
from portier.hal.virtual import VirtualAudio


class VirtualDoor(Board):
    name = "virtual"
    has_strike = True

    def __init__(self, audio_cfg=None):
        a = audio_cfg or {}
        self.mic = a.get("mic")
        self.speaker = a.get("speaker")
        self.realtime = a.get("realtime", True)
        self.loop = a.get("loop", False)
        self.rate = a.get("rate")  # None: the call's codec rate
        self.echo_control = a.get("echo_control") or "none"
        self.echo_path = a.get("echo_path")  # {"delay_ms": .., "gain_db": ..} or None
        self.shared_bus = a.get("shared_bus", False)
        self.led_state = controls.LED_OFF
        self.calls_opened = 0
        self.relay = controls.Relay()
        self.openings = []  # (ticks_ms, pulse_ms) per open_door
        self._releaser = None

    def open_door(self, pulse_ms, now_ms):
        """Energise the strike for pulse_ms; it is released when the pulse ends (by a task when
        an event loop runs, else at the next relay_level())."""
        self.relay.pulse(now_ms, pulse_ms)
        self.openings.append((now_ms, pulse_ms))
        log_line("I", "door", "relay", {"energised": True, "pulse_ms": pulse_ms})
        if self._releaser is None:
            coro = self._release()
            try:
                self._releaser = asyncio.create_task(coro)
            except RuntimeError:  # no running loop (a plain test): relay_level() releases
                coro.close()

    def relay_level(self, now_ms):
        """The strike's level now (1 energised), releasing it when its pulse is over."""
        was = self.relay.energised
        level = self.relay.on_timer(now_ms)
        if was and not self.relay.energised:
            log_line("I", "door", "relay", {"energised": False})
        return level

    async def _release(self):
        try:
            while self.relay.energised:
                left = time.ticks_diff(self.relay.next_deadline(), time.ticks_ms())
                await asyncio.sleep(max(1, left) / 1000)
                self.relay_level(time.ticks_ms())
        finally:
            self._releaser = None

    def led(self, state, now_ms):
        self.led_state = state

    def audio(self, rate):
        """A fresh audio device for one call. A second call in the same run records to
        speaker path + ".N" so the first call's recording is kept."""
        self.calls_opened += 1
        speaker = self.speaker
        if speaker is not None and self.calls_opened > 1:
            speaker = "%s.%d" % (speaker, self.calls_opened)
        dev = VirtualAudio.from_paths(self.rate or rate, self.mic, speaker, self.realtime,
                                      self.loop)
        if self.echo_path is None and not self.shared_bus:
            return dev
        from portier.hal.acoustic import AcousticPath

        path = self.echo_path or {"delay_ms": 1, "gain_db": None}
        return AcousticPath(dev, path["delay_ms"], path["gain_db"], self.shared_bus)
