# The virtual board's door (`portier vboard`): the virtual door's audio, with the board's
# doorbell button, door-strike relay and status LED as one small file each in the folder the
# host names in $PORTIER_VBOARD_IO (portier_host.vboard), so tests and the simulator press the
# button and watch the relay and LED as they would a board's GPIOs:
#   button  "1" pressed / "0" released, written by the host (absent: released)
#   relay   "<level> <pulses>", written here at boot (de-energised) and on every change
#   led     "<state>" (portier.hal.controls LED_*), written here on every change of state
#   mic.wav      the microphone: what the visitor says, 16 kHz mono 16-bit, put there by the
#                host (`portier vboard --mic`); read from the start at each call; absent: silence
#   speaker.wav  the amplifier: what the door played in the last call (speaker.wav.N for the
#                Nth call of a boot), written here
# unless the board's config names its own audio files.
# The timing logic is the board's: controls.Button debounces the polled level, the virtual
# door's controls.Relay bounds the pulse (and logs it); this mirrors its level into `relay`.
# Files change by rename, so the host never reads half of one.
import os
import time

from micropython import const

from portier import fsutil
from portier.hal import controls
from portier.hal.board import BUTTON
from portier.hal.vdoor import VirtualDoor
from portier.net import streams

_POLL_MS = const(20)
ENV = "PORTIER_VBOARD_IO"
MIC_FILE = "mic.wav"
SPEAKER_FILE = "speaker.wav"


def io_dir():
    """The pin folder a virtual board gives its door, or None (not on a virtual board)."""
    from portier.config import getenv

    return getenv(ENV) or None


class VboardDoor(VirtualDoor):
    name = "vboard"

    def __init__(self, audio_cfg, io):
        VirtualDoor.__init__(self, audio_cfg)
        self.io = io
        self._mic_in_io = self.mic is None
        if self.speaker is None:
            self.speaker = io + "/" + SPEAKER_FILE
        self._byte = bytearray(1)
        self._strike_written = None
        self._write_strike()  # the boot level first: a reset mid-pulse leaves the door locked
        self.button = controls.Button(active_level=1, idle_level=self._button_level())
        self._led_written = None

    def audio(self, rate):
        if self._mic_in_io:  # looked up per call: the host may put or change it at any time
            path = self.io + "/" + MIC_FILE
            try:
                os.stat(path)
                self.mic = path
            except OSError:
                self.mic = None
        return VirtualDoor.audio(self, rate)

    def _button_level(self):
        try:
            with open(self.io + "/button", "rb") as f:
                n = f.readinto(self._byte)
        except OSError:
            return 0
        return 1 if n == 1 and self._byte[0] == 0x31 else 0

    def _write_strike(self):
        state = (self.relay.level(), self.relay.pulses)
        if state != self._strike_written:
            fsutil.save_atomic(self.io + "/relay", ("%d %d" % state).encode())
            self._strike_written = state

    def led(self, state, now_ms):
        VirtualDoor.led(self, state, now_ms)
        if state != self._led_written:
            fsutil.save_atomic(self.io + "/led", ("%d" % state).encode())
            self._led_written = state

    def open_door(self, pulse_ms, now_ms):
        """Energise the strike for pulse_ms (the virtual door's relay, released when the pulse
        ends) and show it on the relay pin."""
        VirtualDoor.open_door(self, pulse_ms, now_ms)
        self._write_strike()

    def step(self, now_ms):
        """One poll: the button's level in, the strike's level out; True when pressed."""
        self.button.edge(self._button_level(), now_ms)
        pressed = False
        if self.button.has_events:  # most polls: nothing, and nothing allocated for it
            for ev in self.button.pending():
                if ev == controls.PRESS:
                    pressed = True
        self.relay_level(now_ms)
        self._write_strike()
        return pressed

    async def run(self):
        """The board's input loop: a button press goes into the app's inbox (its edge loop
        rings)."""
        while True:
            if self.step(time.ticks_ms()) and self.inbox is not None:
                self.inbox.put_nowait(BUTTON)
            await streams.sleep_ms(_POLL_MS)
