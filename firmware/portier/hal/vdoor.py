# The virtual door's HAL (simulator, host runs, softphones): the LED is a state the app logs,
# the doorbell is the "press" command on stdin, audio is portier.hal.virtual.VirtualAudio over
# WAV files (microphone in, speaker out), opened per call at the configured rate (like a
# board's fixed I2S rate) or else the call's codec rate.
from portier.hal import controls
from portier.hal.virtual import VirtualAudio


class VirtualDoor:
    name = "virtual"

    def __init__(self, audio_cfg=None):
        a = audio_cfg or {}
        self.mic = a.get("mic")
        self.speaker = a.get("speaker")
        self.realtime = a.get("realtime", True)
        self.loop = a.get("loop", False)
        self.rate = a.get("rate")  # None: the call's codec rate
        self.led_state = controls.LED_OFF
        self.calls_opened = 0

    def led(self, state, now_ms):
        self.led_state = state

    def audio(self, rate):
        """A fresh audio device for one call. A second call in the same run records to
        speaker path + ".N" so the first call's recording is kept."""
        self.calls_opened += 1
        speaker = self.speaker
        if speaker is not None and self.calls_opened > 1:
            speaker = "%s.%d" % (speaker, self.calls_opened)
        return VirtualAudio.from_paths(self.rate or rate, self.mic, speaker, self.realtime,
                                       self.loop)
